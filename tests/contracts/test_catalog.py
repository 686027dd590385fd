from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.contracts import CatalogError, PiiAction, load_catalog

PROVINCE_DOMAINS = {"traffic", "environment", "public_safety", "tourism", "health", "public_services",
                    "citizen_services", "cameras", "reference"}


def test_real_catalog_covers_the_province(catalog):
    assert PROVINCE_DOMAINS <= {c.domain for c in catalog}
    owners = {c.owner for c in catalog}
    assert {"transport", "environment", "police", "tourism", "health", "public_admin", "ioc"} <= owners
    kinds = {c.source.kind.value for c in catalog}
    assert {"file", "database", "api", "open311", "mqtt", "camera", "reference"} <= kinds


def test_pii_defaults_follow_the_class(catalog):
    health = catalog["disease_surveillance"]
    assert health.column("citizen_id").effective_pii_action is PiiAction.hash
    assert health.column("patient_name").effective_pii_action is PiiAction.mask
    assert health.column("clinical_notes").effective_pii_action is PiiAction.drop
    assert catalog["security_incidents"].classification.value == "confidential"


def _edit(catalog_dir: Path, name: str, change) -> Path:
    path = catalog_dir / "datasets" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d["columns"][4].update(type="integr"), "columns[4](domestic_visitors).type", "is not a type"),
        (lambda d: d.update(primary_key=["report_date", "site"]), "", "primary_key names unknown columns ['site']"),
        (lambda d: d.update(owner="ministry_of_magic"), "owner", "unknown department 'ministry_of_magic'"),
        (lambda d: d.update(colour="blue"), "colour", "Extra inputs are not permitted"),
        (lambda d: d["grants"].append({"department": "nobody"}), "grants[6].department", "unknown department"),
        (lambda d: d.update(name="tourism"), "name", "must match the file name"),
        (lambda d: d["columns"][1].update(nullable=True), "", "primary key column 'site_code' must not be nullable"),
        (lambda d: d.update(freshness={"warn_after": "2 weeks", "error_after": "1d"}), "freshness.warn_after", "is not a duration"),
        (lambda d: d["source"].update(schedule="@hourly"), "source.schedule", "in the same source system 'tourism_reports'"),
        (lambda d: d["columns"][1]["checks"].update(pattern="([unclosed"), "columns[1](site_code).checks.pattern", "does not compile"),
    ],
)
def test_broken_contract_names_file_field_and_problem(catalog_copy, change, field, words):
    path = _edit(catalog_copy, "tourism_daily_arrivals", change)
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog_copy)
    problems = [p for p in info.value.problems if p.file == path]
    assert problems, info.value
    assert any(p.field == field and words in p.problem for p in problems), [str(p) for p in problems]


def test_invalid_yaml_and_all_problems_reported_together(catalog_copy):
    (catalog_copy / "datasets" / "hotel_occupancy.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    _edit(catalog_copy, "water_levels", lambda d: d.update(classification="top_secret"))
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog_copy)
    text = str(info.value)
    assert "hotel_occupancy.yaml: not valid YAML" in text
    assert "water_levels.yaml: classification:" in text


def test_cli_validate_reports_and_exits_non_zero(catalog_copy):
    runner = CliRunner(env={"COLUMNS": "250"})
    ok = runner.invoke(app, ["catalog", "validate", str(catalog_copy)])
    assert ok.exit_code == 0, ok.output
    assert "16 contracts" in ok.output or "contracts" in ok.output
    _edit(catalog_copy, "air_quality_observed", lambda d: d["columns"][3].update(type="float128"))
    bad = runner.invoke(app, ["catalog", "validate", str(catalog_copy)])
    assert bad.exit_code == 1
    assert "air_quality_observed.yaml" in bad.output and "columns[3](pm25).type" in bad.output


def test_cli_list_and_show(lake_settings):
    runner = CliRunner(env={"COLUMNS": "250"})
    listing = runner.invoke(app, ["catalog", "list"])
    assert listing.exit_code == 0 and "tourism_daily_arrivals" in listing.output
    shown = runner.invoke(app, ["catalog", "show", "tourism_daily_arrivals"])
    assert shown.exit_code == 0 and "Ngày báo cáo" in shown.output
