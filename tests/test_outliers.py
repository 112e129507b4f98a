"""The outlier detectors: shrinkage pinned on hand-made frames, evidence in the explanations, the feature queries on a
hand-made week, portable SQL, and stable scores (row order, an unrelated region added)."""
import re
import warnings
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from dtsj_analysis.engine import Period, run_detectors
from dtsj_analysis.load import load_dataset, with_tables
from dtsj_analysis.outliers import (MIN_VOLUME, PRIOR, PHARMACY_FEATURES, PRESCRIBER_FEATURES, evidence, pharmacy_features,
                                    pharmacy_sql, prescriber_features, prescriber_sql, reasons)
from dtsj_analysis.evaluation_data import add_region, generate

WEEK = Period.of("2025-04-21", "2025-04-28")
FOREIGN = {"foreign_patients": PHARMACY_FEATURES["foreign_patients"]}

def outlets(rows, group="pharmacy · medium district"):
    "Pharmacy features with only `foreign_patients` filled, one row per (k, n)."
    return pd.DataFrame({"peer_group": group, "peer_coarse": "pharmacy", "n": [n for _, n in rows],
                         "k_foreign_patients": [k for k, _ in rows], "n_foreign_patients": [n for _, n in rows]})

PEERS = [(2, 100)] * 20   # twenty outlets, 2% of their dispensings from other districts

def test_one_event_against_one_hundred():
    ev = evidence(outlets(PEERS + [(1, 1), (100, 100), (25, 100)]), FOREIGN)
    peer, shrunk, z = ev.peer.foreign_patients, ev.shrunk.foreign_patients, ev.z.foreign_patients
    assert peer[20] == pytest.approx(0.02)
    assert shrunk[20] == pytest.approx((1 + PRIOR * 0.02) / (1 + PRIOR))        # one event moves the rate a tenth of the way at most
    assert shrunk[21] == pytest.approx((100 + PRIOR * 0.02) / (100 + PRIOR))    # a hundred move it nearly all the way
    assert z[20] == pytest.approx(0.161, abs=0.001)
    assert z[22] == pytest.approx(4.46, abs=0.01)
    assert z[21] == 25.0                                                          # capped
    assert ev.raw.foreign_patients[20] == 1.0 and ev.raw.foreign_patients[21] == 1.0

def test_few_events_never_outrank_evidence():
    small = [(k, n) for n in range(1, MIN_VOLUME) for k in range(0, n + 1)]     # every share over 1 to 4 events
    z = evidence(outlets(PEERS + small + [(15, 100)]), FOREIGN).z.foreign_patients
    assert z[20:20 + len(small)].max() < z.iloc[-1]
    assert z[20:20 + len(small)].max() < 2.5
    more = evidence(outlets(PEERS + [(k, k) for k in range(1, 30)]), FOREIGN).z.foreign_patients[20:]
    assert more.is_monotonic_increasing                                           # the same all-out share counts more with more events

def test_small_peer_group_borrows_its_type():
    few = outlets([(0, 100), (30, 100), (2, 2), (2, 2), (2, 2)], "pharmacy · small district")
    f = pd.concat([few, outlets([(1, 100)] * 10)], ignore_index=True)
    assert evidence(f, FOREIGN).peer.foreign_patients[0] == pytest.approx(0.01)

def test_excess_and_mean_features():
    cap = pd.DataFrame({"peer_group": "x", "peer_coarse": "x", "n": 100, "n_top_prescriber": 100, "k_top_prescriber": [20] * 19 + [60, 60],
                        "e_top_prescriber": [18] * 19 + [58, 10]})
    z = evidence(cap, {"top_prescriber": PHARMACY_FEATURES["top_prescriber"]}).z.top_prescriber
    assert z[19] < 1 < 5 < z[20]
    means = pd.DataFrame({"peer_group": "x", "peer_coarse": "x", "n": [100] * 20 + [1, 100], "n_price_ratio": [100] * 20 + [1, 100],
                          "m_price_ratio": [0.92 + 0.001 * i for i in range(20)] + [1.5, 0.99], "v_price_ratio": 0.04 ** 2})
    z = evidence(means, {"price_ratio": PHARMACY_FEATURES["price_ratio"]}).z.price_ratio
    assert z[20] < 1 < 5 < z[21]

def test_explanations_show_the_evidence():
    f = outlets(PEERS + [(2, 2), (25, 100)])
    ev = evidence(f, FOREIGN)
    assert reasons(f, ev, FOREIGN, "en")[20] == "prescriptions from other districts 100% (2 of 2; peer median 2%)"
    assert reasons(f, ev, FOREIGN, "ru")[21] == "рецепты из других районов 25% (25 из 100; медиана аналогов 2%)"
    assert reasons(f, ev, FOREIGN, "uz")[21] == "бошқа туман рецептлари 25% (100 тадан 25 таси; ўхшашлари медианаси 2%)"

def rx(i, at, patient="00012345678901", days="30"):
    return dict(prescription_id=f"RX{i}", issued_at=at, prescriber_id="D01", facility_id="F01", patient_id=patient, atc_code="C08CA01",
                quantity="30", days_supply=days, valid_until="2025-05-21", reimbursed="true")

@pytest.fixture(scope="module")
def week():
    return with_tables(prescriptions=[rx(1, "2025-04-21T09:30:00"), rx(2, "2025-04-22T10:00:00", "00012345678902"),
                                      rx(3, "2025-04-27T19:30:00"), rx(4, "2025-04-23T10:00:00", "00012345678902", "90")],
                       dispensings=[dict(dispensing_id=f"DS{i}", prescription_id=f"RX{i}", pharmacy_id="PH1", dispensed_at=f"2025-04-2{i + 1}T11:00:00",
                                         drug_code="000101", quantity="30", amount_claimed="9000") for i in (1, 2)])

def test_feature_counts_on_a_hand_made_week(week):
    p = prescriber_features(week, WEEK).iloc[0]
    assert (p.n, p.k_after_hours, p.k_sunday, p.n_top_pharmacy, p.k_top_pharmacy, p.e_top_pharmacy) == (4, 1, 1, 2, 2, 2)
    assert (p.n_one_off, p.k_one_off) == (3, 0)          # one-month prescriptions only; patient ...02 has two prescriptions
    assert p.n_cost_rank == 2                            # two courses: the 90-day prescription renews patient ...02's course
    h = pharmacy_features(week, WEEK).iloc[0]
    assert (h.pharmacy_id, h.n, h.k_night, h.k_quick, h.k_foreign_patients) == ("PH1", 2, 0, 0, 0)
    assert h.m_price_ratio == pytest.approx(1.0)

def test_queries_are_plain_sql():
    for sql in (prescriber_sql(), pharmacy_sql()):
        assert not re.search(r"\b(QUALIFY|ASOF|EXCLUDE|OVER)\b", sql, re.I)

@pytest.fixture(scope="module")
def tables():
    T, _ = generate(5, "navoi,samarkand,fergana", 0.5)
    return T

def scores(T):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = run_detectors(load_dataset(T), WEEK.start, WEEK.end, detectors="prescriber_outlier,pharmacy_outlier")
    return f.set_index(["detector", "entity_id"])

def test_row_order_does_not_change_scores(tables):
    before = scores(tables)
    rng = np.random.default_rng(3)
    after = scores({k: v.iloc[rng.permutation(len(v))].reset_index(drop=True) for k, v in tables.items()}).reindex(before.index)
    np.testing.assert_allclose(after.score, before.score, rtol=0, atol=1e-9)
    assert (after.explanation == before.explanation).all()

def test_another_region_moves_other_regions_only_by_noise(tables):
    before = scores(tables)
    U, _ = generate(99, "jizzakh", 0.5)
    wider = scores(add_region(tables, U))
    assert set(wider.region) == set(before.region) | {"jizzakh"}
    for (det, region), g in before.groupby(["detector", "region"]):
        new = wider.score.reindex(g.index)
        top = lambda s: set(s.sort_values(ascending=False).index[:10])
        assert spearmanr(g.score, new).statistic >= 0.9, (det, region)
        assert len(top(g.score) & top(new)) >= 8, (det, region)
        moved = (new - g.score).abs()
        assert (moved <= np.maximum(1, 0.2 * g.score)).all() and moved.median() < 0.1, (det, region)
