"""Survey comment text for the demo data, in the tone of each answer.

Comments are composed from fragment pools so that thousands of distinct sentences appear;
the positive and negative words are ones TextBlob's lexicon scores. English comments can
be positive, negative or mixed; Arabic and Persian ones (from accounts in the Middle East)
are positive or negative. Only the random generator passed in is used, so the text is
reproducible from the demo data's seed.
"""

from __future__ import annotations

import numpy as np

_EN_OPENERS = np.array([
    "", "Honestly, ", "Overall, ", "This month ", "Lately ", "For our team, ", "So far ",
    "In general, ", "To be fair, ", "From my side, ", "Since the last update ",
], dtype=object)
_EN_ASPECTS = np.array([
    "the dashboard", "the reporting", "onboarding", "the support team", "the mobile app",
    "billing", "the CRM integration", "search", "the API", "data export", "the new editor",
    "user management", "the notifications", "the analytics module", "our account manager",
    "the documentation", "the scheduling feature", "performance",
], dtype=object)
_EN_ASPECTS_CAPITALISED = np.array([a[0].upper() + a[1:] for a in _EN_ASPECTS], dtype=object)
_EN_POSITIVE = np.array([
    "is excellent", "works great", "is fast and easy to use", "is really good",
    "has been wonderful", "is a pleasure to use", "is amazing", "keeps getting better",
    "is perfect for us", "is impressive", "saves us time and works well",
    "is clear and helpful", "feels polished and nice", "makes us happy",
], dtype=object)
_EN_NEGATIVE = np.array([
    "is slow", "is confusing", "keeps breaking", "is frustrating", "is terrible",
    "has been disappointing", "is hard to use", "is too expensive for what it does",
    "has been awful lately", "is painful to work with", "is getting worse", "feels broken",
    "is annoying and slow", "is poor compared to competitors", "is a bad experience",
], dtype=object)
_EN_POSITIVE_CLOSERS = np.array([
    "", " Thanks!", " Great job.", " We would happily recommend you.",
    " Keep up the good work.", " Very happy overall.",
], dtype=object)
_EN_NEGATIVE_CLOSERS = np.array([
    "", " Please fix this soon.", " We are considering alternatives.",
    " Very disappointed.", " This needs attention.", " Not happy at all.",
], dtype=object)
_EN_MIXED_CLOSERS = np.array(["", " Mostly okay.", " Hoping for improvements.", ""], dtype=object)

_AR_OPENERS = np.array(["", "بصراحة، ", "بشكل عام، ", "في الفترة الأخيرة ", "بالنسبة لفريقنا، "], dtype=object)
_AR_POSITIVE = np.array([
    "الخدمة ممتازة وسريعة", "فريق الدعم متعاون جداً", "المنصة سهلة الاستخدام",
    "نحن راضون جداً عن النتائج", "التقارير واضحة ومفيدة", "التحديث الأخير رائع",
], dtype=object)
_AR_NEGATIVE = np.array([
    "الدعم الفني بطيء جداً", "نواجه مشاكل متكررة في النظام", "الأسعار مرتفعة مقارنة بالقيمة",
    "لسنا راضين عن الخدمة", "التطبيق معقد وصعب الاستخدام", "التقارير غير دقيقة",
], dtype=object)
_AR_POSITIVE_CLOSERS = np.array(["", " شكراً لكم.", " نوصي بكم بشدة."], dtype=object)
_AR_NEGATIVE_CLOSERS = np.array(["", " نرجو الحل سريعاً.", " نفكر في البدائل."], dtype=object)

_FA_OPENERS = np.array(["", "راستش، ", "در مجموع، ", "این اواخر ", "برای تیم ما، "], dtype=object)
_FA_POSITIVE = np.array([
    "پشتیبانی خیلی خوب و سریع است", "کار با سامانه آسان است", "از نتیجه کار راضی هستیم",
    "گزارش‌ها دقیق و مفید هستند", "تیم پشتیبانی بسیار همکاری کرد", "به‌روزرسانی جدید عالی است",
], dtype=object)
_FA_NEGATIVE = np.array([
    "پاسخگویی پشتیبانی خیلی کند است", "مشکلات زیادی در سامانه داریم", "قیمت نسبت به ارزش آن بالاست",
    "از خدمات راضی نیستیم", "برنامه پیچیده و سخت است", "گزارش‌ها دقیق نیستند",
], dtype=object)
_FA_POSITIVE_CLOSERS = np.array(["", " ممنون از شما.", " حتماً شما را پیشنهاد می‌کنیم."], dtype=object)
_FA_NEGATIVE_CLOSERS = np.array(["", " لطفاً زودتر حل کنید.", " به فکر جایگزین هستیم."], dtype=object)


def _pick(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    return pool[rng.integers(0, len(pool), n)]


def _english_comments(rng: np.random.Generator, tone: np.ndarray) -> np.ndarray:
    """Sentences whose tone is positive (tone > 0.15), negative (< -0.15) or mixed."""
    n = len(tone)
    positive, negative = tone > 0.15, tone < -0.15
    opener = _pick(rng, _EN_OPENERS, n)
    which = rng.integers(0, len(_EN_ASPECTS), n)
    # Capitalise the aspect when the sentence starts with it.
    aspect = np.where(opener == "", _EN_ASPECTS_CAPITALISED[which], _EN_ASPECTS[which])
    first = np.where(positive, _pick(rng, _EN_POSITIVE, n), _pick(rng, _EN_NEGATIVE, n))
    mixed = ~positive & ~negative
    first[mixed] = np.where(tone[mixed] >= 0, _pick(rng, _EN_POSITIVE, mixed.sum()),
                            _pick(rng, _EN_NEGATIVE, mixed.sum()))
    second_aspect = _pick(rng, _EN_ASPECTS, n)
    same_tone = np.where(positive, _pick(rng, _EN_POSITIVE, n), _pick(rng, _EN_NEGATIVE, n))
    opposite = np.where(tone >= 0, _pick(rng, _EN_NEGATIVE, n), _pick(rng, _EN_POSITIVE, n))
    add_second = rng.random(n) < 0.4
    second = np.full(n, "", dtype=object)
    joined = add_second & ~mixed
    second[joined] = ", and " + second_aspect[joined] + " " + same_tone[joined]
    # Mixed feelings always name one thing that works and one that does not.
    second[mixed] = ", but " + second_aspect[mixed] + " " + opposite[mixed]
    closer = np.where(
        positive, _pick(rng, _EN_POSITIVE_CLOSERS, n),
        np.where(negative, _pick(rng, _EN_NEGATIVE_CLOSERS, n), _pick(rng, _EN_MIXED_CLOSERS, n)),
    )
    return opener + aspect + " " + first + second + "." + closer


def _foreign_comments(
    rng: np.random.Generator, tone: np.ndarray, openers, positive, negative, pos_closers, neg_closers
) -> np.ndarray:
    n = len(tone)
    good = tone >= 0
    body = np.where(good, _pick(rng, positive, n), _pick(rng, negative, n))
    closer = np.where(good, _pick(rng, pos_closers, n), _pick(rng, neg_closers, n))
    return _pick(rng, openers, n) + body + "." + closer


def compose_comments(
    rng: np.random.Generator, tone: np.ndarray, language: np.ndarray
) -> np.ndarray:
    """Comment text per response; ``language`` is 0 English, 1 Arabic, 2 Persian.

    Parameters
    ----------
    rng : numpy.random.Generator
        The demo data's generator, the only source of randomness.
    tone : ndarray of float
        Tone of each response. English: positive above 0.15, negative below -0.15, mixed
        in between; Arabic and Persian: positive from 0 up, else negative.
    language : ndarray of int
        0 English, 1 Arabic, 2 Persian, per response.

    Returns
    -------
    ndarray of object
        One comment per response.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> for text in compose_comments(rng, np.array([0.9, -0.9]), np.array([0, 0])):
    ...     print(text)
    From my side, data export has been wonderful. Keep up the good work.
    In general, the mobile app is slow. Not happy at all.
    """
    text = np.empty(len(tone), dtype=object)
    english = language == 0
    text[english] = _english_comments(rng, tone[english])
    arabic, persian = language == 1, language == 2
    text[arabic] = _foreign_comments(
        rng, tone[arabic], _AR_OPENERS, _AR_POSITIVE, _AR_NEGATIVE,
        _AR_POSITIVE_CLOSERS, _AR_NEGATIVE_CLOSERS,
    )
    text[persian] = _foreign_comments(
        rng, tone[persian], _FA_OPENERS, _FA_POSITIVE, _FA_NEGATIVE,
        _FA_POSITIVE_CLOSERS, _FA_NEGATIVE_CLOSERS,
    )
    return text
