"""Benchmark of ``customer-health score`` with each engine: time and peak memory.

The demo data is generated once per size with ``demo-data --chunk`` (partitioned Parquet,
bounded memory; not timed) and kept in --data for later runs. Each measured run is the
real command in a child process; the peak memory is that of the whole process tree (the
CLI, Spark's JVM and its Python workers), sampled every 0.2 s, both as the sum of each
process's resident memory and as the sum of their proportional set sizes (pages shared by
forked processes counted once). The model is the champion of ``MLFLOW_TRACKING_URI`` or a
small one trained first (not timed; see bench_batch.py).

Prints one line per run and a table (median time, seconds per 1,000 accounts, both peaks).
Targets on 2 cores / 24 GB: Spark scores 1M accounts within 8 GB, in at most 10 times the
pandas engine's time per account at 100k.

    python benchmarks/bench_spark.py [--accounts 100000 1000000] [--engines pandas spark]
        [--runs 3] [--months 18] [--buckets 64] [--data /tmp/bench_spark]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_batch import ensure_model  # noqa: E402  (the benchmarks folder is on the path)

AS_OF = "2026-06-01"
CLI = str(Path(sys.executable).with_name("customer-health"))


def tree_memory(process: psutil.Process) -> tuple[dict[str, int], int]:
    """Memory of ``process`` and all its descendants: the resident bytes by part (the
    command's own Python, i.e. Spark's driver; Spark's JVM; its Python workers) and the
    proportional set size of them all, in which a page shared by forked processes (the
    pandas engine's comment workers, Spark's Python workers forked from their daemon)
    counts once, where the sum of the resident bytes counts it in each."""
    parts: dict[str, int] = {}
    pss = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            memory, line = member.memory_full_info(), " ".join(member.cmdline())
        except psutil.Error:
            continue  # ended between the listing and the reading
        part = ("JVM" if "java" in line else "Python workers" if "pyspark" in line
                else "driver Python")
        parts[part] = parts.get(part, 0) + memory.rss
        pss += memory.pss
    return parts, pss


def measure(command: list[str]) -> tuple[float, int, int, str]:
    """(seconds, peak RSS sum and peak PSS of the process tree, output tail) of one
    command; the parts of the RSS peak are printed."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched, peak, peak_pss, at_peak = psutil.Process(child.pid), 0, 0, {}
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(child.stdout), daemon=True)
    reader.start()
    while child.poll() is None:
        try:
            parts, pss = tree_memory(watched)
        except psutil.Error:
            break
        if sum(parts.values()) > peak:
            peak, at_peak = sum(parts.values()), parts
            at_peak["s"] = round(time.perf_counter() - started)
        peak_pss = max(peak_pss, pss)
        time.sleep(0.2)
    child.wait()
    reader.join()
    seconds = time.perf_counter() - started
    print(f"  peak at {at_peak.pop('s', 0)} s: " + ", ".join(
        f"{part} {rss / 2**30:.2f} GB" for part, rss in sorted(at_peak.items())), flush=True)
    if child.returncode != 0:
        # Spark's stack traces are long: the lines naming the error first, then the end.
        errors = [line for line in output if "Error" in line or "Exception" in line][:20]
        raise SystemExit(f"{' '.join(command)} failed:\n{''.join(errors)}\n...\n"
                         f"{''.join(output)[-3000:]}")
    return seconds, peak, peak_pss, "".join(output).strip().splitlines()[-1]


def _remove_outputs(out: Path) -> None:
    """The scores, alerts and metadata of an earlier run at ``out`` (files or folders)."""
    for path in out.parent.iterdir():
        if not path.name.lstrip(".").startswith(f"{out.stem}."):  # Spark's .crc files too
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def ensure_data(data: Path, accounts: int, months: int) -> Path:
    folder = data / f"demo_{accounts}_{months}m"
    if (folder / "surveys.parquet").exists():
        return folder
    from features.demo_chunks import write_demo_chunks

    started = time.perf_counter()
    write_demo_chunks(folder, accounts=accounts, months=months, seed=7, chunk=50_000)
    print(f"demo data: {accounts:,} accounts x {months} months in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=["pandas", "spark"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--buckets", type=int, default=64)
    parser.add_argument("--spark-master", default="local[*]")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "bench_spark")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    ensure_model(args.data)

    rows = []
    for accounts in args.accounts:
        folder = ensure_data(args.data, accounts, args.months)
        for engine in args.engines:
            times, peaks, peaks_pss = [], [], []
            for run in range(args.runs):
                out = args.data / f"scores_{engine}_{accounts}.parquet"
                _remove_outputs(out)  # an earlier run's folder would read as a folder of runs
                command = [CLI, "score", str(folder), "--as-of", AS_OF, "--out", str(out),
                           "--engine", engine]
                if engine == "spark":
                    command += ["--buckets", str(args.buckets), "--spark-master", args.spark_master]
                seconds, peak, peak_pss, last = measure(command)
                times.append(seconds)
                peaks.append(peak)
                peaks_pss.append(peak_pss)
                print(f"{engine} {accounts:,} run {run + 1}: {seconds:.1f} s, peak "
                      f"{peak / 2**30:.2f} GB RSS sum, {peak_pss / 2**30:.2f} GB PSS; {last}",
                      flush=True)
            median = statistics.median(times)
            rows.append((engine, accounts, median, 1000 * median / accounts, max(peaks) / 2**30,
                         max(peaks_pss) / 2**30))

    print()
    print(f"| engine | accounts | median s ({args.runs} runs) | s per 1,000 accounts "
          "| peak GB, RSS sum | peak GB, PSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for engine, accounts, median, per_k, peak, peak_pss in rows:
        print(f"| {engine} | {accounts:,} | {median:.1f} | {per_k:.2f} | {peak:.2f} "
              f"| {peak_pss:.2f} |")


if __name__ == "__main__":
    main()
