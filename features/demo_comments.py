"""Survey comment text for the demo data, in the tone of each answer.

Comments are composed from fragment pools so that thousands of distinct sentences appear;
the positive and negative English words are ones TextBlob's lexicon scores. English comments
can be positive, negative or mixed. Arabic and Persian ones (from accounts in the Middle
East) are composed from an opener, one or two clauses about an aspect of the product in one
of four strengths of tone (strongly or mildly negative or positive; mild ones often with a
"but"), and a closer: several thousand distinct sentences per language, so that a polarity
learnt from them is a real test. Only the random generator passed in is used, so the text is
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

# Arabic and Persian comments are composed from parts: an opener, one or two clauses each
# about an aspect of the product, in one of four strengths of tone, and a closer. Clauses
# put the aspect where its grammatical gender does not matter ("our experience with X").
_AR_OPENERS = np.array([
    "", "بصراحة، ", "بشكل عام، ", "في الفترة الأخيرة ", "بالنسبة لفريقنا، ", "هذا الشهر ",
    "من وجهة نظرنا، ", "منذ التحديث الأخير ",
], dtype=object)
_AR_ASPECTS = np.array([
    "الدعم الفني", "فريق الدعم", "لوحة التحكم", "التقارير", "التطبيق", "الفواتير",
    "التكامل مع نظامنا", "البحث", "واجهة البرمجة", "تصدير البيانات", "المحرر الجديد",
    "الإشعارات", "مدير الحساب", "التوثيق", "جدولة المواعيد", "سرعة النظام", "التدريب",
    "الأسعار",
], dtype=object)
_AR_CLAUSES = (  # strongly negative, mildly negative, mildly positive, strongly positive
    np.array(["تجربتنا مع {} سيئة جداً", "لسنا راضين أبداً عن {}", "مستوى {} ضعيف جداً",
              "نواجه مشاكل متكررة في {}", "جودة {} تراجعت كثيراً", "لا يمكن الاعتماد على {}",
              "خاب أملنا في {}", "نعاني كثيراً من {}"], dtype=object),
    np.array(["مستوى {} أقل من المتوقع", "نواجه بعض الصعوبات مع {}", "لسنا راضين تماماً عن {}",
              "نحتاج إلى تحسين في {}", "تجربتنا مع {} لم تكن جيدة مؤخراً"], dtype=object),
    np.array(["مستوى {} جيد بشكل عام", "تجربتنا مع {} جيدة في الغالب", "نحن راضون عن {} إلى حد ما",
              "لاحظنا تحسناً في {}", "مستوى {} مقبول"], dtype=object),
    np.array(["تجربتنا مع {} ممتازة", "نحن راضون جداً عن {}", "أعجبنا {} كثيراً",
              "كل شيء رائع في {}", "جودة {} عالية جداً", "نحن سعداء جداً بمستوى {}",
              "مستوى {} ممتاز"], dtype=object),
)
_AR_CLOSERS = (
    np.array(["", " نرجو الحل سريعاً.", " نفكر في البدائل.", " خيبة أمل كبيرة.", " هذا غير مقبول."], dtype=object),
    np.array(["", " نأمل أن يتحسن الوضع.", " نرجو المتابعة."], dtype=object),
    np.array(["", " شكراً.", " نتمنى المزيد من التحسينات."], dtype=object),
    np.array(["", " شكراً لكم.", " نوصي بكم بشدة.", " استمروا في هذا العمل الرائع.",
              " نحن سعداء بالتعامل معكم."], dtype=object),
)
_AR_JOINERS = ("، و", "، لكن ")

_FA_OPENERS = np.array([
    "", "راستش، ", "در مجموع، ", "این اواخر ", "برای تیم ما، ", "صادقانه بگویم، ",
    "از دید ما، ", "این ماه ",
], dtype=object)
_FA_ASPECTS = np.array([
    "پشتیبانی", "تیم پشتیبانی", "داشبورد", "گزارش‌ها", "اپلیکیشن موبایل", "صورتحساب",
    "اتصال به سیستم ما", "جستجو", "API", "خروجی گرفتن از داده‌ها", "ویرایشگر جدید",
    "اعلان‌ها", "مدیر حساب ما", "مستندات", "زمان‌بندی", "سرعت سامانه", "آموزش", "قیمت‌ها",
], dtype=object)
_FA_CLAUSES = (
    np.array(["تجربه ما با {} خیلی بد است", "از {} اصلاً راضی نیستیم", "{} مدام خراب می‌شود",
              "کیفیت {} خیلی پایین آمده", "وضع {} افتضاح است", "با {} مشکلات زیادی داریم",
              "نمی‌توان به {} اعتماد کرد", "از {} واقعاً ناامید شدیم"], dtype=object),
    np.array(["{} کمی ضعیف است", "با {} گاهی مشکل داریم", "از {} کاملاً راضی نیستیم",
              "{} جای پیشرفت دارد", "{} اخیراً کمی کند شده"], dtype=object),
    np.array(["{} در کل خوب است", "از {} نسبتاً راضی هستیم", "{} قابل قبول است",
              "اخیراً {} بهتر شده", "تجربه ما با {} معمولاً خوب است"], dtype=object),
    np.array(["تجربه ما با {} عالی است", "از {} خیلی راضی هستیم", "{} واقعاً فوق‌العاده است",
              "{} بهتر از انتظار ما بود", "کیفیت {} خیلی خوب است", "از {} بسیار خوشحالیم",
              "{} بی‌نقص کار می‌کند"], dtype=object),
)
_FA_CLOSERS = (
    np.array(["", " لطفاً زودتر حل کنید.", " به فکر جایگزین هستیم.", " واقعاً ناامید شدیم.",
              " این قابل قبول نیست."], dtype=object),
    np.array(["", " لطفاً پیگیری کنید.", " امیدواریم درست شود."], dtype=object),
    np.array(["", " ممنون.", " امیدواریم بهتر هم بشود."], dtype=object),
    np.array(["", " ممنون از شما.", " حتماً شما را پیشنهاد می‌کنیم.", " خسته نباشید.",
              " به همین شکل ادامه دهید."], dtype=object),
)
_FA_JOINERS = (" و ", "، اما ")
# Tone from which a comment is strongly positive; below minus it, strongly negative.
_STRONG_TONE = 0.45


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


def _clauses(rng: np.random.Generator, strength: np.ndarray, clauses, aspects) -> np.ndarray:
    """One clause per comment in the strength of its tone, about a random aspect."""
    out = np.empty(len(strength), dtype=object)
    aspect = _pick(rng, aspects, len(strength))
    for level, pool in enumerate(clauses):
        rows = np.flatnonzero(strength == level)
        templates = _pick(rng, pool, len(rows))
        out[rows] = [template.format(a) for template, a in zip(templates, aspect[rows])]
    return out


def _composed_comments(rng: np.random.Generator, tone: np.ndarray, openers, aspects, clauses,
                       closers, joiners) -> np.ndarray:
    """Opener, one or two clauses and a closer, in four strengths of tone.

    Strong tones may add a second clause of the same strength; mild ones add, half the
    time, a clause of the opposite mild tone ("good on the whole, but ..."), so that a
    reader must weigh the parts rather than spot one word.
    """
    n = len(tone)
    strength = np.select([tone <= -_STRONG_TONE, tone < 0, tone < _STRONG_TONE], [0, 1, 2], 3)
    first = _clauses(rng, strength, clauses, aspects)
    mild = (strength == 1) | (strength == 2)
    second_strength = np.where(mild, 3 - strength, strength)
    second = _clauses(rng, second_strength, clauses, aspects)
    add = rng.random(n) < np.where(mild, 0.5, 0.35)
    joiner = np.where(mild, joiners[1], joiners[0])
    body = np.where(add, first + joiner + second, first)
    closer = np.empty(n, dtype=object)
    for level, pool in enumerate(closers):
        rows = np.flatnonzero(strength == level)
        closer[rows] = _pick(rng, pool, len(rows))
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
        in between; Arabic and Persian: strongly negative up to -0.45, mildly negative
        below 0, mildly positive below 0.45, strongly positive from there.
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
    text[arabic] = _composed_comments(
        rng, tone[arabic], _AR_OPENERS, _AR_ASPECTS, _AR_CLAUSES, _AR_CLOSERS, _AR_JOINERS
    )
    text[persian] = _composed_comments(
        rng, tone[persian], _FA_OPENERS, _FA_ASPECTS, _FA_CLAUSES, _FA_CLOSERS, _FA_JOINERS
    )
    return text
