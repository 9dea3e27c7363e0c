"""``bigmap archive validate|upload``: check the archive bundles' InvenioRDM records, and deposit them."""

from __future__ import annotations

from pathlib import Path

from ..archive.bundle import find_bundles, read_bundle
from ..archive.client import TOKEN_VARIABLE, URL_VARIABLE, Uploaded, from_environment, upload
from .core import data_dir_arg, data_dir_of


def register(subparsers) -> None:
    archive = subparsers.add_parser("archive", help="archive bundles: validate their records, upload them")
    commands = archive.add_subparsers(dest="archive_command", metavar="ARCHIVE_COMMAND", required=True)
    p = commands.add_parser("validate", help="dry run: check every bundle's metadata.json against the InvenioRDM "
                                             "record schema (exit 1 when one is not valid)",
                            description="Check every bundle under warehouse/archive/ (or those selected) as an "
                                        "InvenioRDM instance would check a draft; nothing is sent.")
    _selection(p)
    p.set_defaults(func=cmd_validate)
    p = commands.add_parser("upload", help="deposit bundles in an InvenioRDM instance",
                            description=f"Create a draft per bundle from its metadata.json, upload its files and "
                                        f"publish it. Idempotent: a bundle already published with the same content "
                                        f"is left as it is, a changed one becomes the next version of its record, "
                                        f"a draft left by an interrupted upload is resumed (the bundle's "
                                        f"uploaded.json records what went where). "
                                        f"The instance and a personal access token come from "
                                        f"${URL_VARIABLE} and ${TOKEN_VARIABLE}. Every selected record is validated "
                                        f"first; nothing is sent when one is not valid.")
    _selection(p)
    p.add_argument("--draft", action="store_true", help="leave the records as drafts (do not publish)")
    p.set_defaults(func=cmd_upload)


def _selection(parser) -> None:
    data_dir_arg(parser)
    parser.add_argument("--sample", action="append", default=[], metavar="SAMPLE_ID",
                        help="only this sample's bundles (repeatable)")
    parser.add_argument("--technique", action="append", default=[], choices=("cycling", "d2b", "xas"),
                        help="only this technique's bundles (repeatable)")


def _selected(args) -> list[Path]:
    data_dir = data_dir_of(args)
    folders = [f for f in find_bundles(data_dir / "warehouse")
               if (not args.sample or f.parent.name in args.sample) and (not args.technique or f.name in args.technique)]
    if not folders:
        raise ValueError(f"{data_dir / 'warehouse' / 'archive'}: no archive bundle"
                         f"{' matches the selection' if args.sample or args.technique else ''} "
                         "(build them with `bigmap materialize`)")
    return folders


def cmd_validate(args) -> int:
    invalid = 0
    for folder in _selected(args):
        bundle = read_bundle(folder)
        name = f"{folder.parent.name} {folder.name}"
        print(f"{'ok     ' if not bundle.problems else 'INVALID'} {name}: {len(bundle.files)} files")
        for problem in bundle.problems:
            print(f"        {problem}")
        invalid += bool(bundle.problems)
    return 1 if invalid else 0


def cmd_upload(args) -> int:
    base_url, token = from_environment()
    bundles = [read_bundle(folder) for folder in _selected(args)]
    for bundle in bundles:
        if bundle.problems:
            raise ValueError(f"{bundle.folder}: record not valid ({bundle.problems[0]}); nothing uploaded "
                             "(see `bigmap archive validate`)")
    for bundle in bundles:
        done = upload(bundle, base_url, token, publish=not args.draft)
        print(f"{_state(done)} {bundle.folder.parent.name} {bundle.folder.name}: record {done.record_id} {done.link}"
              f"{_note(done)}")
    return 0


def _state(done: Uploaded) -> str:
    if done.action == "unchanged" and done.published:
        return "unchanged"
    return "published" if done.published else "draft"


def _note(done: Uploaded) -> str:
    if done.action == "unchanged":
        return f" (this content is already {'published' if done.published else 'in the draft'})"
    notes = ["resumed the draft an earlier upload left"] if done.action == "resumed" else []
    if done.previous_id:
        notes.append(f"new version of {done.previous_id}" + (f", concept {done.concept_id}" if done.concept_id else ""))
    return f" ({'; '.join(notes)})" if notes else ""
