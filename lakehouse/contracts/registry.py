"""Load and cross-check the catalog: departments plus one contract YAML per dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from lakehouse.contracts.model import Contract, Department


@dataclass(frozen=True)
class ContractProblem:
    """One thing wrong with one file, said so a data engineer can fix it without a debugger."""

    file: Path
    field: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else str(self.file)
        return f"{where}: {self.problem}"


class CatalogError(Exception):
    def __init__(self, problems: list[ContractProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problems_from(path: Path, error: ValidationError, data: dict) -> list[ContractProblem]:
    problems = []
    for item in error.errors():
        loc = item["loc"]
        # Name the column rather than its index: "columns[3](visitors).type".
        if len(loc) >= 2 and loc[0] == "columns" and isinstance(loc[1], int):
            try:
                name = data["columns"][loc[1]].get("name", "?")
                loc = (f"columns[{loc[1]}]({name})", *loc[2:])
            except (KeyError, IndexError, AttributeError, TypeError):
                pass
        message = item["msg"].removeprefix("Value error, ")
        problems.append(ContractProblem(path, _loc(loc), message))
    return problems


def _read_yaml(path: Path) -> tuple[dict | list | None, ContractProblem | None]:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), None
    except yaml.YAMLError as exc:
        return None, ContractProblem(path, "", f"not valid YAML: {exc}")


@dataclass
class Catalog:
    """Every contract and department, validated together."""

    root: Path
    contracts: dict[str, Contract] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Contract:
        try:
            return self.contracts[name]
        except KeyError:
            raise KeyError(f"no contract named '{name}' in {self.root}") from None

    def __iter__(self):
        return iter(self.contracts.values())

    def __len__(self) -> int:
        return len(self.contracts)

    def by_kind(self, kind: str) -> list[Contract]:
        return [c for c in self if c.source.kind.value == kind]


def load_catalog(root: Path | str | None = None) -> Catalog:
    """Load ``root/departments.yaml`` and ``root/datasets/*.yaml``; raise CatalogError listing
    every problem at once (a data engineer fixes them all in one pass, not one per run)."""
    if root is None:
        from lakehouse.settings import get_settings

        root = get_settings().catalog_dir
    root = Path(root)
    catalog = Catalog(root=root)
    problems: list[ContractProblem] = []

    departments_file = root / "departments.yaml"
    data, problem = _read_yaml(departments_file)
    if problem:
        problems.append(problem)
    elif not isinstance(data, dict) or not isinstance(data.get("departments"), list):
        problems.append(ContractProblem(departments_file, "departments", "expected a list"))
    else:
        for index, item in enumerate(data["departments"]):
            try:
                dept = Department.model_validate(item)
                catalog.departments[dept.code] = dept
            except ValidationError as exc:
                for p in _problems_from(departments_file, exc, {}):
                    problems.append(ContractProblem(p.file, f"departments[{index}].{p.field}", p.problem))

    for path in sorted((root / "datasets").glob("*.y*ml")):
        data, problem = _read_yaml(path)
        if problem:
            problems.append(problem)
            continue
        if not isinstance(data, dict):
            problems.append(ContractProblem(path, "", "expected a mapping of contract fields"))
            continue
        try:
            contract = Contract.model_validate(data)
        except ValidationError as exc:
            problems.extend(_problems_from(path, exc, data))
            continue
        if contract.name != path.stem:
            problems.append(
                ContractProblem(path, "name", f"'{contract.name}' must match the file name '{path.stem}'")
            )
        if contract.name in catalog.contracts:
            problems.append(ContractProblem(path, "name", f"'{contract.name}' is defined twice"))
        catalog.contracts[contract.name] = contract
        catalog.files[contract.name] = path

    for contract in catalog.contracts.values():
        path = catalog.files[contract.name]
        if catalog.departments and contract.owner not in catalog.departments:
            problems.append(ContractProblem(path, "owner", f"unknown department '{contract.owner}'"))
        for index, grant in enumerate(contract.grants):
            if catalog.departments and grant.department not in catalog.departments:
                problems.append(
                    ContractProblem(path, f"grants[{index}].department", f"unknown department '{grant.department}'")
                )
            elif (grant.row_filter and "{unit_code" in grant.row_filter
                  and catalog.departments and not catalog.departments[grant.department].unit_code):
                problems.append(ContractProblem(
                    path, f"grants[{index}].row_filter",
                    f"'{grant.department}' has no unit_code in departments.yaml for the filter to use"))
    # A reference names a dataset and column that exist.
    for contract in catalog.contracts.values():
        for column in contract.columns:
            target = column.checks.references
            if not target:
                continue
            dataset, _, name = target.partition(".")
            if dataset not in catalog.contracts or name not in {c.name for c in catalog.contracts[dataset].columns}:
                problems.append(ContractProblem(
                    catalog.files[contract.name], f"columns({column.name}).checks.references",
                    f"'{target}' is not a column of a contracted dataset"))
    # One ingestion DAG per source system: its datasets must agree on the schedule.
    schedules: dict[str, tuple[str, str]] = {}
    for contract in catalog.contracts.values():
        system, schedule = contract.source.system, contract.source.schedule
        first = schedules.setdefault(system, (contract.name, schedule))
        if first[1] != schedule:
            problems.append(ContractProblem(
                catalog.files[contract.name], "source.schedule",
                f"'{schedule}' differs from '{first[1]}' of {first[0]}, in the same source system '{system}'"))
    if problems:
        raise CatalogError(problems)
    return catalog
