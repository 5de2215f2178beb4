"""The checked-in Grafana files are exactly what dashboards/generate.py produces, and they
are coherent: data source UIDs provisioned, panels on the grid without overlap, unique ids."""

from __future__ import annotations

import json
from itertools import combinations

import pytest
import yaml
from infersight.dashboards.generate import OUTPUT, generated_files, main, stale_files

FILES = generated_files()


def test_checked_in_files_equal_the_generated_ones() -> None:
    assert stale_files() == [], "run: python -m infersight.dashboards.generate"
    on_disk = {str(p.relative_to(OUTPUT)) for p in OUTPUT.rglob("*") if p.is_file()}
    assert on_disk == set(FILES), "files under dashboards/grafana/ that the generator does not make"


def test_check_mode_reports_a_hand_edited_file(tmp_path) -> None:
    assert stale_files(tmp_path) == sorted(FILES)
    out = ["--output", str(tmp_path)]
    assert main(out) == 0 and main([*out, "--check"]) == 0
    board = tmp_path / "dashboards" / "overview.json"
    board.write_text(board.read_text().replace("Models", "Modles"))
    assert main([*out, "--check"]) == 1


BOARDS = {name: json.loads(text) for name, text in FILES.items() if name.endswith(".json")}


def test_dashboards_use_only_provisioned_data_sources() -> None:
    provisioned = yaml.safe_load(FILES["provisioning/datasources/infersight.yaml"])
    sources = {(d["type"], d["uid"]) for d in provisioned["datasources"]}
    builtin = {("grafana", "-- Grafana --")}
    for name, board in BOARDS.items():
        used = {(p["datasource"]["type"], p["datasource"]["uid"]) for p in board["panels"]
                if "datasource" in p}
        used |= {(t["datasource"]["type"], t["datasource"]["uid"])
                 for p in board["panels"] for t in p.get("targets", [])}
        used |= {(v["datasource"]["type"], v["datasource"]["uid"])
                 for v in board["templating"]["list"]}
        used |= {(a["datasource"]["type"], a["datasource"]["uid"])
                 for a in board["annotations"]["list"]}
        assert used <= sources | builtin, name


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panels_fit_the_grid_without_overlap_and_have_unique_ids(name: str) -> None:
    board = BOARDS[name]
    assert board["schemaVersion"] >= 39 and board["uid"] and len(board["uid"]) <= 40
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        assert panel["type"] == "row" or panel["targets"], panel["title"]
    for a, b in combinations(panels, 2):
        pa, pb = a["gridPos"], b["gridPos"]
        overlap = (pa["x"] < pb["x"] + pb["w"] and pb["x"] < pa["x"] + pa["w"]
                   and pa["y"] < pb["y"] + pb["h"] and pb["y"] < pa["y"] + pa["h"])
        assert not overlap, (a["title"], b["title"])


def test_dashboard_uids_are_unique_and_the_model_one_is_what_alerts_link_to() -> None:
    from infersight.settings import Settings

    uids = [b["uid"] for b in BOARDS.values()]
    assert len(set(uids)) == len(uids)
    assert Settings().alert_dashboard_uid in uids
    model = BOARDS["dashboards/model-detail.json"]
    names = [v["name"] for v in model["templating"]["list"]]
    assert names == ["model", "version", "feature"]  # alert links set var-model, var-version
