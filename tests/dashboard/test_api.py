"""The dashboard's JSON API over a real store, through a real server (uvicorn)."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

import pytest

from archsearch.store import SqlStore
from archsearch.trial import TrialStatus

ENDPOINTS = ("", "/trials", "/best", "/histogram", "/scatter?x=cost_s&y=score", "/decisions",
             "/rules", "/failed", "/trials/0")  # fmt: skip


def fetch(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get(server: str, path: str) -> Any:
    status, body = fetch(server + path)
    assert status == 200, body
    return json.loads(body)


def complete(store: SqlStore, name: str) -> list[Any]:
    record = store.find_experiment(name)
    assert record is not None
    return [t for t in store.trials(record.id, state=TrialStatus.COMPLETE) if t.score is not None]


def test_experiments_list_matches_the_store(server: str, store: SqlStore) -> None:
    rows = {r["name"]: r for r in get(server, "/api/experiments")["experiments"]}
    assert {"nb201-rea", "nb201-faulty", "darts-random", "nb201-live"} <= set(rows)
    rea = rows["nb201-rea"]
    assert (rea["space"], rea["strategy"], rea["status"]) == ("nb201", "rea", "complete")
    assert rea["done"] == len(complete(store, "nb201-rea"))
    assert rea["best"] == max(t.score for t in complete(store, "nb201-rea"))
    faulty = store.find_experiment("nb201-faulty")
    assert faulty is not None
    assert rows["nb201-faulty"]["failed"] == store.count_trials(faulty.id)[TrialStatus.FAILED] > 0


def test_experiment_header(server: str, store: SqlStore) -> None:
    info = get(server, "/api/experiments/nb201-rea")
    record = store.find_experiment("nb201-rea")
    assert record is not None
    assert info["counts"] == {str(k): v for k, v in store.count_trials(record.id).items()}
    assert info["metrics"] == ["test_accuracy", "valid_accuracy"]
    assert info["objective_metric"] == "valid_accuracy"
    assert info["best"]["number"] == record.summary["best"]["number"]


def test_trials_sorted_filtered_and_paged_in_the_database(server: str, store: SqlStore) -> None:
    trials = complete(store, "nb201-rea")
    page = get(server, "/api/experiments/nb201-rea/trials?sort=score&order=desc&limit=5")
    ranked = sorted(trials, key=lambda t: (-t.score, t.number))
    assert [t["number"] for t in page["trials"]] == [t.number for t in ranked[:5]]
    second = get(server, "/api/experiments/nb201-rea/trials?sort=number&offset=5&limit=5")
    assert [t["number"] for t in second["trials"]] == list(range(5, 10))
    cut = 80.0
    path = "/api/experiments/nb201-rea/trials?metric=valid_accuracy&min=80&limit=500"
    kept = get(server, path)
    expected = [t.number for t in trials if t.metrics["valid_accuracy"] >= cut]
    assert kept["total"] == len(expected)
    assert sorted(t["number"] for t in kept["trials"]) == expected
    by_metric = get(
        server, "/api/experiments/nb201-rea/trials?sort=test_accuracy&order=asc&limit=3"
    )
    values = [t["metrics"]["test_accuracy"] for t in by_metric["trials"]]
    assert values == sorted(t.metrics["test_accuracy"] for t in trials)[:3]


def test_failed_trials_with_their_errors(server: str, store: SqlStore) -> None:
    record = store.find_experiment("nb201-faulty")
    assert record is not None
    n_failed = store.count_trials(record.id)[TrialStatus.FAILED]
    failed = get(server, "/api/experiments/nb201-faulty/failed?limit=500")
    assert failed["total"] == n_failed == len(failed["trials"])
    assert all(t["state"] == "failed" and t["failure"] for t in failed["trials"])
    assert any("injected" in (t["error"] or "") for t in failed["trials"])
    # failed trials may hold NaN metrics; sorting every state by a metric still works
    path = "/api/experiments/nb201-faulty/trials?state=failed&sort=score&limit=500"
    assert get(server, path)["total"] == n_failed


def test_best_so_far_is_the_running_best(server: str, store: SqlStore) -> None:
    trials = complete(store, "nb201-rea")
    curve = get(server, "/api/experiments/nb201-rea/best?x=trials")
    best, expected = -math.inf, []
    for t in sorted(trials, key=lambda t: t.number):
        if t.score > best:
            best = t.score
            expected.append([t.number, t.score])
    assert curve["points"] == expected
    timed = get(server, "/api/experiments/nb201-rea/best?x=time")
    assert timed["label"] == "simulated time (s)"
    assert [p[1] for p in timed["points"]][-1] == best
    xs = [p[0] for p in timed["points"]]
    assert xs == sorted(xs) and timed["end"] >= xs[-1]


def test_histogram_counts_every_complete_trial(server: str, store: SqlStore) -> None:
    hist = get(server, "/api/experiments/nb201-rea/histogram?bins=7")
    trials = complete(store, "nb201-rea")
    assert len(hist["counts"]) == 7 and len(hist["edges"]) == 8
    assert sum(hist["counts"]) == hist["n"] == len(trials)
    low, width = hist["edges"][0], hist["edges"][1] - hist["edges"][0]
    first = sum(1 for t in trials if t.score < low + width)
    assert hist["counts"][0] == first


def test_scatter_front_is_the_pareto_front(server: str, store: SqlStore) -> None:
    data = get(server, "/api/experiments/nb201-rea/scatter?x=cost_s&y=valid_accuracy")
    assert data["minimise"] == [True, False]
    points = [
        (t.number, t.cost_s, t.metrics["valid_accuracy"]) for t in complete(store, "nb201-rea")
    ]
    front: dict[tuple[float, float], int] = {}
    for n, c, a in sorted(points):
        if not any(c2 <= c and a2 >= a and (c2, a2) != (c, a) for _, c2, a2 in points):
            front.setdefault((c, a), n)  # one trial per point: the earliest
    assert {(p[1], p[2]): p[0] for p in data["front"]} == front
    assert [p[1] for p in data["front"]] == sorted(p[1] for p in data["front"])
    assert data["n"] == len(points)
    binned = sum(p[3] for p in data["points"])
    assert len(points) - len(front) <= binned <= len(points)


def test_decisions_mean_score_by_value(server: str, store: SqlStore) -> None:
    decisions = get(server, "/api/experiments/nb201-rea/decisions")["decisions"]
    trials = complete(store, "nb201-rea")
    assert [d["path"] for d in decisions] == [
        "edge_0_1", "edge_0_2", "edge_1_2", "edge_0_3", "edge_1_3", "edge_2_3"
    ]  # fmt: skip
    groups: dict[str, list[float]] = defaultdict(list)
    for t in trials:
        groups[t.config["edge_0_3"]].append(t.score)
    got = {v["value"]: v for v in decisions[3]["values"]}
    assert {k: g["count"] for k, g in got.items()} == {k: len(v) for k, v in groups.items()}
    for value, scores in groups.items():
        assert got[value]["mean"] == pytest.approx(sum(scores) / len(scores))
        assert got[value]["best"] == max(scores)


def test_decisions_of_darts_cells(server: str) -> None:
    decisions = get(server, "/api/experiments/darts-random/decisions")["decisions"]
    paths = [d["path"] for d in decisions]
    assert "normal.edge_0" in paths and "reduce.edge_1" in paths
    assert sum(v["count"] for v in decisions[0]["values"]) == 30


def test_choice_rules(server: str) -> None:
    rules = get(server, "/api/experiments/nb201-rea/rules?top_percent=10")
    assert rules["label"].startswith("top 10%")
    assert rules["rules"] and all(r["share_set"] >= 0.3 for r in rules["rules"])


def test_trial_detail_nb201(server: str, store: SqlStore) -> None:
    record = store.find_experiment("nb201-rea")
    assert record is not None
    number = record.summary["best"]["number"]
    trial = get(server, f"/api/experiments/nb201-rea/trials/{number}")
    assert trial["arch"] == record.summary["best"]["arch"]
    graph = trial["graph"]
    assert graph["kind"] == "nb201"
    ops = {(e["source"], e["target"]): e["op"] for e in graph["cells"][0]["edges"]}
    assert ops[(0, 3)] == trial["config"]["edge_0_3"]
    assert [p[0] for p in trial["curve"]["benchmark"]] == [12.0, 200.0]
    assert trial["curve"]["benchmark"][0][1] == trial["metrics"]["valid_accuracy"]


def test_trial_detail_darts(server: str) -> None:
    trial = get(server, "/api/experiments/darts-random/trials/0")
    assert trial["graph"]["kind"] == "darts"
    normal = trial["graph"]["cells"][0]
    assert normal["name"] == "normal"
    labelled = [e for e in normal["edges"] if e["op"] is not None]
    assert len(labelled) == 8  # two inputs for each of 4 nodes
    assert {e["target"] for e in labelled} == {2, 3, 4, 5}


def test_compare(server: str) -> None:
    data = get(server, "/api/compare?names=nb201-rea,darts-random")
    assert [c["name"] for c in data["curves"]] == ["nb201-rea", "darts-random"]
    assert all(c["points"] for c in data["curves"])


@pytest.mark.parametrize("suffix", ENDPOINTS)
def test_unknown_experiment_is_a_clean_404(server: str, store: SqlStore, suffix: str) -> None:
    status, body = fetch(f"{server}/api/experiments/no-such-exp{suffix}")
    assert status == 404
    assert json.loads(body) == {"error": "no experiment named 'no-such-exp'"}
    assert "Traceback" not in body and store.url.split("///")[1] not in body


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/experiments/nb201-rea/trials/99999", 404, "no trial '99999'"),
        ("/api/experiments/nb201-rea/trials/abc", 404, "no trial 'abc'"),
        ("/api/compare?names=nb201-rea,nope", 404, "no experiment named 'nope'"),
        ("/api/compare", 400, "names:"),
        ("/api/experiments/nb201-rea/trials?sort=evil", 400, "sort: unknown value 'evil'"),
        ("/api/experiments/nb201-rea/trials?limit=100000", 400, "limit: must be in"),
        ("/api/experiments/nb201-rea/trials?offset=x", 400, "offset: expected an integer"),
        ("/api/experiments/nb201-rea/trials?state=done", 400, "state: unknown value"),
        ("/api/experiments/nb201-rea/trials?metric=x&min=1", 400, "metric: unknown value"),
        ("/api/experiments/nb201-rea/trials?metric=score&min=low", 400, "min: expected a number"),
        ("/api/experiments/nb201-rea/scatter?x=cost_s", 400, "x, y: both required"),
        ("/api/experiments/nb201-rea/best?x=epochs", 400, "x: unknown value"),
        ("/api/experiments/nb201-rea/histogram?bins=0", 400, "bins: must be in"),
        ("/api/experiments/nb201-rea/rules?top_percent=500", 400, "top_percent: must be"),
        ("/api/nothing", 404, "Not Found"),
    ],
)
def test_bad_requests_name_the_field(server: str, path: str, status: int, message: str) -> None:
    got, body = fetch(server + path)
    assert got == status
    assert message in json.loads(body)["error"]
    assert "Traceback" not in body and "/tmp" not in body


def test_pages_and_static_files(server: str) -> None:
    for path in ("/", "/experiments/nb201-rea", "/experiments/nb201-rea/trials/3", "/compare"):
        status, body = fetch(server + path)
        assert status == 200 and "/static/app.js" in body
    for path in ("/experiments/nope", "/experiments/nb201-rea/trials/99999"):
        status, body = fetch(server + path)
        assert status == 404 and body.startswith("404: no ") and "Traceback" not in body
    status, body = fetch(server + "/static/plot.js")
    assert status == 200 and "scatterPlot" in body


def test_read_only(server: str) -> None:
    for method in ("POST", "PUT", "DELETE"):
        assert fetch(server + "/api/experiments/nb201-rea", method)[0] == 405
