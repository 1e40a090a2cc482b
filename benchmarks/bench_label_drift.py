"""The label-stream detector (`alerts.label_stream`) against river's ADWIN on river's
synthetic concept-drift streams with known drift points, side by side on the same labels.

    .venv/bin/python benchmarks/bench_label_drift.py [--seeds 10] [--per-hour 100]

A model (river's Hoeffding tree) learns concept A from its own stream, then is frozen,
as a deployed model is; it predicts a stream of `LENGTH` rows whose concept switches to
B at `POSITION` (`ConceptDriftStream`, over `WIDTH` rows). Its error indicator (1 = wrong) goes to
ADWIN one label at a time, and to our detector as hourly counts of `--per-hour` labels;
both are read at the end of each hour, as the hourly job would read them. A stream of
concept A alone (no drift) counts false alarms. Printed per generator: detections,
median and mean delay in labels (from the drift's start to the end of the hour that
fired), false alarms per 10,000 labels, and the ratio of the delays; then the false
alarms of both on long steady Bernoulli streams (a slice-year a seed at error rates
0.02, 0.1 and 0.3). Needs
`river` (`pip install river`), a reference only: inferwatch does not import it.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import numpy as np  # noqa: E402
from river import drift, tree  # noqa: E402
from river.datasets import synth  # noqa: E402

from inferwatch.alerts import label_stream  # noqa: E402

LENGTH, POSITION, TRAIN = 30_000, 15_000, 20_000
# the switch is a sigmoid this wide around POSITION (river overflows below ~85 here)
WIDTH = 100


def generators(seed: int) -> dict:
    """{name: (a stream of concept A, of concept B)} (fresh objects for one seed)."""
    return {
        "SEA 0->2 (noise 10%)": (lambda s: synth.SEA(variant=0, noise=0.1, seed=s),
                                 lambda s: synth.SEA(variant=2, noise=0.1, seed=s)),
        "Agrawal 0->2": (lambda s: synth.Agrawal(classification_function=0, seed=s),
                         lambda s: synth.Agrawal(classification_function=2, seed=s)),
        "STAGGER 0->1": (lambda s: synth.STAGGER(classification_function=0, seed=s),
                         lambda s: synth.STAGGER(classification_function=1, seed=s)),
    }


def errors(concept_a, concept_b, seed: int, drifts: bool) -> list[int]:
    """The frozen model's error indicators over the stream (B from POSITION if drifts)."""
    model = tree.HoeffdingTreeClassifier()
    for x, y in concept_a(seed + 10_000).take(TRAIN):
        model.learn_one(x, y)
    # seeds apart: a drift stream's rows before the switch are its concept A stream's,
    # and a generator's features follow its seed whatever the concept
    stream = (synth.ConceptDriftStream(concept_a(seed), concept_b(seed + 5_000),
                                       position=POSITION, width=WIDTH, seed=seed)
              if drifts else concept_a(seed + 20_000))
    return [int(model.predict_one(x) != y) for x, y in stream.take(LENGTH)]


def adwin_alarms(wrong: list[int], sizes) -> list[int]:
    """The hours (of `sizes` labels each, in order) in which ADWIN fired, fed every
    label in order."""
    hour_of = np.repeat(np.arange(len(sizes)), sizes)
    detector, out = drift.ADWIN(), []
    for i, e in enumerate(wrong[:len(hour_of)]):
        detector.update(e)
        if detector.drift_detected and (not out or out[-1] != hour_of[i]):
            out.append(int(hour_of[i]))
    return out


def our_alarms(wrong: list[int], sizes) -> list[int]:
    """The hours (of `sizes` labels each, in order) in which ours fired, fed each hour's
    counts."""
    ends = np.cumsum(sizes)
    hours = [(i, int(n), int(sum(wrong[end - n:end]))) for i, (n, end) in
             enumerate(zip(sizes, ends))]
    return [hour for hour, state in label_stream.run(hours) if state.fired]


def score(alarms: list[int], drifts: bool, per_hour: int) -> tuple[int | None, int]:
    """(labels from the drift's start to the end of the first hour that fired after it,
    false alarms: hours that fired ending before the drift started, or anywhere on a
    stream without drift). Both detectors are read at the end of an hour, as the hourly
    job reads them; the drift starts WIDTH before POSITION (2% of rows from B)."""
    if not drifts:
        return None, len(alarms)
    start = POSITION - WIDTH
    ends = [(hour + 1) * per_hour for hour in alarms]
    after = [end - start for end in ends if end > start]
    return (after[0] if after else None), sum(end <= start for end in ends)


def steady(seeds: int) -> None:
    """False alarms on long steady streams: a slice-year (8,760 hours of 0-200 labels)
    per seed at each error rate, Bernoulli labels; ADWIN fed per label, ours per hour."""
    print(f"\nsteady streams, {seeds} slice-years a rate (hours of 0-200 labels):")
    for rate in (0.02, 0.1, 0.3):
        fired = {"ours": 0, "adwin": 0}
        labels = 0
        for seed in range(seeds):
            rng = np.random.default_rng(100 + seed)
            sizes = rng.integers(0, 200, 8_760)
            wrong = (rng.random(int(sizes.sum())) < rate).astype(int)
            labels += len(wrong)
            fired["adwin"] += len(adwin_alarms(wrong.tolist(), sizes))
            fired["ours"] += len(our_alarms(wrong, sizes))
        print(f"  error rate {rate}: {labels:,} labels, false alarms per 10,000 labels: "
              f"ours {1e4 * fired['ours'] / labels:.4f} ({fired['ours']}), "
              f"ADWIN {1e4 * fired['adwin'] / labels:.4f} ({fired['adwin']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--per-hour", type=int, default=100)
    args = parser.parse_args()
    print(f"{args.seeds} seeds, {LENGTH:,} labels a stream, drift at {POSITION:,}, "
          f"{args.per_hour} labels an hour for ours; ADWIN(delta=0.002) per label")
    for name in generators(0):
        delays = {"ours": [], "adwin": []}
        false = {"ours": 0, "adwin": 0}
        missed = {"ours": 0, "adwin": 0}
        quiet_labels = 0
        rates = []
        for seed in range(args.seeds):
            concept_a, concept_b = generators(seed)[name]
            for drifts in (True, False):
                wrong = errors(concept_a, concept_b, seed, drifts)
                if drifts:
                    rates.append((sum(wrong[:POSITION]) / POSITION,
                                  sum(wrong[POSITION:]) / (LENGTH - POSITION)))
                quiet_labels += POSITION - WIDTH if drifts else LENGTH
                hours = [args.per_hour] * (len(wrong) // args.per_hour)
                for who, alarms in (("ours", our_alarms(wrong, hours)),
                                    ("adwin", adwin_alarms(wrong, hours))):
                    delay, wrongly = score(alarms, drifts, args.per_hour)
                    false[who] += wrongly
                    if drifts:
                        if delay is None:
                            missed[who] += 1
                        else:
                            delays[who].append(delay)
        before = statistics.mean(r[0] for r in rates)
        after = statistics.mean(r[1] for r in rates)
        print(f"\n{name}: error rate {before:.3f} -> {after:.3f}")
        for who in ("ours", "adwin"):
            d = delays[who]
            print(f"  {who:5s} detected {len(d)}/{args.seeds}, delay median "
                  f"{statistics.median(d) if d else float('nan'):7.0f} mean "
                  f"{statistics.mean(d) if d else float('nan'):7.0f} labels; "
                  f"false alarms {1e4 * false[who] / quiet_labels:.3f} per 10,000 labels "
                  f"({false[who]} in {quiet_labels:,})")
        if delays["ours"] and delays["adwin"]:
            print(f"  delay ours / ADWIN (medians): "
                  f"{statistics.median(delays['ours']) / statistics.median(delays['adwin']):.2f}x")
    steady(args.seeds)


if __name__ == "__main__":
    main()
