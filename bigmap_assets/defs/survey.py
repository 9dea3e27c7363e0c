"""Survey assets: every form under raw/survey/ -> survey_answers -> survey_metaview, and the answer grid."""

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pyarrow as pa

from .. import schemas
from ..ingest.errors import UnreadableFile
from ..ingest.admission import Issue, PartitionFiles, ReadFile, files_in
from ..plots.survey import survey_grid
from ..readers import metadata_of, read, survey_form
from ..science.survey import survey_metaview as compute_metaview
from ..warehouse.provenance import code_version, sha256_of, stamp
from .publish import log_issues, plot_metadata, publish, record_ingest
from .resources import WarehouseResource

GROUP = "survey"
TECHNIQUE = "survey"
PARTITION = "forms"  # ingest_issues / raw_files partition of the survey files (they belong to no one sample)


def read_forms(data_dir: Path) -> PartitionFiles:
    """Read every file under ``raw/survey/``: forms become tables, anything else an issue (links out of
    the data folder and FIFOs too); cells the reader could not understand become issues with their sheet!cell."""
    result = PartitionFiles(TECHNIQUE, PARTITION)
    paths, result.issues = files_in(data_dir, data_dir / "raw" / TECHNIQUE, TECHNIQUE, None)
    for path in paths:
        rel = str(path.relative_to(data_dir))
        digest = sha256_of(path)
        entry = {"path": rel, "technique": TECHNIQUE, "sample_id": PARTITION, "size_byte": path.stat().st_size,
                 "sha256": digest, "code_version": code_version(),
                 "modified_time": datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)}
        try:
            table = read_survey_file(path)
        except UnreadableFile as exc:
            result.issues.append(Issue(rel, TECHNIQUE, exc.reason, location=exc.location, sha256=digest))
            result.inventory.append({**entry, "status": "issue"})
            continue
        meta = metadata_of(table)
        if meta.get("technique") != TECHNIQUE:
            result.issues.append(Issue(rel, TECHNIQUE, f"not used: a {meta.get('technique')} file "
                                                       f"({meta.get('format')}) in the survey folder", sha256=digest))
            result.inventory.append({**entry, "status": "issue"})
            continue
        result.issues += [Issue(rel, TECHNIQUE, i["reason"], location=i["location"],
                                severity=i.get("severity", "error"), sha256=digest) for i in meta.get("issues", [])]
        result.issues += [Issue(rel, TECHNIQUE, warning, severity="warning", sha256=digest)
                          for warning in meta.get("warnings", [])]
        result.files.append(ReadFile(rel, digest, stamp(table, rel, digest)))
        result.inventory.append({**entry, "status": "ok", "reader": meta.get("format"), "row_count": table.num_rows})
    result.issues += duplicate_forms(result.files)
    return result


def duplicate_forms(files: list[ReadFile]) -> list[Issue]:
    """An issue for every form of a (technique, partner) already seen in an earlier block or file: the
    meta-view keeps one answer per form and point, the later one."""
    first_seen: dict[tuple[str, str], str] = {}
    issues = []
    for read_file in files:
        for form in read_file.metadata.get("forms", []):
            key, where = (form["technique"], form["partner"]), f"{read_file.path} {form['sheet']}!{form['cell']}"
            if key in first_seen:
                issues.append(Issue(read_file.path, TECHNIQUE, f"second form for {key[0]} ({key[1]}), first at "
                                    f"{first_seen[key]}: the meta-view uses this later one; remove the outdated form",
                                    location=f"{form['sheet']}!{form['cell']}", severity="warning",
                                    sha256=read_file.sha256))
            first_seen.setdefault(key, where)
    return issues


def read_survey_file(path: Path) -> pa.Table:
    """Content first, like every folder; a spreadsheet no reader recognises goes to the form reader anyway
    (a form may open below the rows its sniffer looks at), so a refusal says what the form lacks."""
    return read(path, fallback=survey_form.NAME if path.suffix.lower() in survey_form.SUFFIXES else None)


@dg.asset(group_name=GROUP, kinds={"parquet"},
          description="One row per answer of every survey form (partner, technique, comparison, material, property), "
                      "normalised, with the raw text and its cell.")
def survey_answers(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    files = read_forms(warehouse.root)
    log_issues(context, files)
    metadata = record_ingest(warehouse, files)
    schema = schemas.TABLES["survey_answers"]
    answers = pa.concat_tables([schema.conform(f.table) for f in files.files]) if files.files \
        else schema.arrow_schema().empty_table()
    metadata |= publish(warehouse, "survey_answers", answers)
    metadata["forms"] = len({(r["partner"], r["technique"]) for r in answers.select(["partner", "technique"])
                             .to_pylist()})
    if answers.num_rows:
        metadata |= plot_metadata(survey_grid(answers), warehouse.output_dir("plots", "survey") / "survey_grid.png",
                                  label="survey_grid")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name=GROUP, kinds={"parquet"}, deps=[survey_answers],
          description="Per point of interest (38, Figure 34): yes/no/unsure/n.a. counts across techniques and a "
                      "verdict (clear difference, clear no difference, uncertain, divergent).")
def survey_metaview(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    answers = warehouse.lake.read_every("survey_answers")
    answers = answers if answers is not None else schemas.TABLES["survey_answers"].arrow_schema().empty_table()
    view = compute_metaview(answers)
    metadata = publish(warehouse, "survey_metaview", view)
    metadata["verdicts"] = dg.MetadataValue.json(dict(Counter(view["verdict"].to_pylist())))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=survey_answers,
                description="Every answer cell of every form was understood. Warns on the example data: one form "
                            "(Lab-02, XPS) holds a deliberately malformed answer.")
def survey_cells_are_understood(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    issues = warehouse.lake.read("ingest_issues", {"technique": TECHNIQUE, "sample_id": PARTITION})
    cells = [f"{r['path']} {r['location']}" for r in issues.to_pylist() if r["location"]] if issues is not None else []
    return dg.AssetCheckResult(passed=not cells, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"cells": dg.MetadataValue.json(cells)})


ASSETS = [survey_answers, survey_metaview]
CHECKS = [survey_cells_are_understood]
