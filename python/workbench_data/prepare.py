"""Lay out a fetched training-data source the way the upstream scripts read it.

    python3 -m workbench_data.prepare --out OUT --image-store STORE --archives SNAPSHOT
        [--archive-glob 'images_*.zip'] [--captions FILE] [--instructions FILE]
    python3 -m workbench_data.prepare --out OUT --image-folder DIR [--captions FILE] [--instructions FILE]

* Images: every archive under SNAPSHOT matching the glob (at any depth: some revisions of the
  AdaMLLM food data keep `images_N.zip` at the top, later ones under `images/`) is extracted,
  flattened to file names (as PubMedVision's card does with `unzip -j`), into one shared folder
  per snapshot, STORE/<snapshot folder name>, so two sources using the same images extract them
  once. With --image-folder instead, DIR already holds the image files, flat (a source whose
  images no public archive serves, put there by hand). Extraction goes to a temporary folder renamed into place, with a `.complete` marker: a
  killed run leaves nothing half-made that a later run would trust; a lock file serialises two
  stages doing it at once (the second finds the folder complete). Two archive members with the
  same name and different contents are an error (flattening would lose one).
* JSON: CAPTIONS is written as OUT/image_caption_pairs.json, INSTRUCTIONS as
  OUT/instructions.json, both in the ShareGPT layout the upstream scripts and LLaMA-Factory
  read (`messages` with role/content, `images`). LLaVA-layout rows (`conversations` with
  from/value, `image`; LLaVA-Med's files spell it `conversatons`, which its own loader accepts too)
  are converted. Every image a row names must exist in the image folder,
  as written or by its file name alone (rewritten then); a missing image fails the stage,
  naming the file, the row and the image.
* OUT/images links to the image folder; OUT/data.json says what was made (rows, images,
  archives, the SHA-256 of each written file).

Exit status: 0 done, 2 usage, 1 bad data (one message naming the file and what to do).
"""
import argparse
import contextlib
import fcntl
import fnmatch
import hashlib
import json
import os
import shutil
import socket
import sys
import zipfile

ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
IMAGE_TOKEN = "<image>"


class DataError(Exception):
    pass


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(path, value):
    """`value` as JSON, written through a temporary sibling and a rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
    os.replace(tmp, path)


def write_jsonl(path, rows):
    """`rows` as JSON lines, written through a temporary sibling and a rename."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def read_json_list(path, what="rows"):
    """The list a JSON file holds, or a DataError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot read it as JSON ({e})")
    if not isinstance(value, list):
        raise DataError(f"{path}: expected a JSON list of {what}")
    return value


def link_images(out, images_dir):
    """OUT/images: a link to the shared image folder (an earlier link replaced)."""
    os.makedirs(out, exist_ok=True)
    link = os.path.join(out, "images")
    if os.path.islink(link) or os.path.exists(link):
        os.unlink(link)
    os.symlink(images_dir, link)


def find_archives(root, pattern):
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            if fnmatch.fnmatch(name, pattern):
                found.append(os.path.join(folder, name))
    return found


def member_name(info):
    """The flattened file name of an archive member, or None for folders and metadata."""
    if info.is_dir() or info.filename.startswith("__MACOSX/"):
        return None
    name = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
    if name in ("", ".", "..") or name.startswith("._"):
        return None
    return name


def extract(archives, target):
    """Extracts `archives` flattened into `target` (created); returns {name: crc} per file."""
    os.makedirs(target)
    seen = {}
    for archive in archives:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(f"{archive}: not a readable zip archive ({e}); `workbench fetch --verify` re-checks the download")
        with zf:
            for info in zf.infolist():
                name = member_name(info)
                if name is None:
                    continue
                if name in seen:
                    if seen[name] != (info.CRC, info.file_size):
                        raise DataError(f"{archive}: {info.filename} and an earlier member are both named {name} "
                                        "with different contents; flattening the archives would lose one")
                    continue
                seen[name] = (info.CRC, info.file_size)
                with zf.open(info) as src, open(os.path.join(target, name), "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    return seen


@contextlib.contextmanager
def locked(path):
    """Holds an exclusive lock on `path` (created) while the block runs: two stages preparing
    sources that share images (PubMedVision's, say) take turns instead of extracting over each other."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def image_folder(store, snapshot, pattern):
    """The shared folder holding `snapshot`'s extracted images (made unless complete)."""
    archives = find_archives(snapshot, pattern)
    if not archives:
        raise DataError(f"{snapshot}: no archive matches '{pattern}'; check the catalog's images_glob against the files the dataset holds")
    slug = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(snapshot)))) + "--" + os.path.basename(os.path.abspath(snapshot))
    target = os.path.join(store, slug)
    marker = target + ".complete"
    listing = [{"path": os.path.relpath(a, snapshot), "size": os.path.getsize(a)} for a in archives]
    os.makedirs(store, exist_ok=True)
    with locked(target + ".lock"):
        if os.path.isdir(target) and os.path.exists(marker):
            with open(marker) as f:
                if json.load(f).get("archives") == listing:
                    return target, listing, False   # made by an earlier run, or by the stage this one waited for
        partial = f"{target}.partial-{socket.gethostname()}-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            files = extract(archives, partial)
            if os.path.exists(marker):
                os.unlink(marker)
            shutil.rmtree(target, ignore_errors=True)   # an earlier run's leftover, never marked complete
            os.rename(partial, target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        write_json(marker, {"archives": listing, "files": len(files)})
    return target, listing, True


def as_sharegpt(row, where):
    """A row in the ShareGPT messages/images layout (LLaVA conversations/image rows converted)."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: not a JSON object")
    if "messages" in row:
        messages = row["messages"]
        images = row.get("images", [])
    elif "conversations" in row or "conversatons" in row:
        messages = []
        for turn in row.get("conversations", row.get("conversatons")):
            role = ROLES.get(str(turn.get("from", "")).lower())
            if role is None:
                raise DataError(f"{where}: unknown speaker {turn.get('from')!r} (known: {', '.join(sorted(ROLES))})")
            messages.append({"role": role, "content": turn.get("value", "")})
        images = row.get("image", row.get("images", []))
    else:
        raise DataError(f"{where}: neither 'messages' (ShareGPT) nor 'conversations' (LLaVA) in the row")
    if isinstance(images, str):
        images = [images]
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages):
        raise DataError(f"{where}: 'messages' must be a list of {{role, content}} objects")
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in messages], "images": list(images)}


def prepare_rows(path, images_dir, names):
    """Rows of `path` in the ShareGPT layout with image paths relative to `images_dir`."""
    rows = read_json_list(path)
    out, missing, tokens_added = [], [], 0
    for i, row in enumerate(rows):
        r = as_sharegpt(row, f"{path}: row {i}")
        resolved = []
        for ref in r["images"]:
            found = next((c for c in (ref, os.path.basename(ref)) if c in names), None)
            if found is None:
                missing.append((i, ref))
            resolved.append(found or ref)
        r["images"] = resolved
        used = sum(m["content"].count(IMAGE_TOKEN) for m in r["messages"] if m["role"] == "user")
        if used == 0 and resolved:
            # LLaVA's own preprocessing puts the image first; LLaMA-Factory needs the token written.
            first = next((m for m in r["messages"] if m["role"] == "user"), None)
            if first is None:
                raise DataError(f"{path}: row {i} has images but no user turn")
            first["content"] = (IMAGE_TOKEN + "\n") * len(resolved) + first["content"]
            tokens_added += 1
        elif used != len(resolved):
            raise DataError(f"{path}: row {i} names {len(resolved)} image(s) but its user turns hold {used} {IMAGE_TOKEN} token(s)")
        out.append(r)
    if missing:
        shown = ", ".join(f"row {i}: {ref}" for i, ref in missing[:5])
        raise DataError(f"{path}: {len(missing)} image(s) named by its rows are not in {images_dir} ({shown}"
                        f"{', ...' if len(missing) > 5 else ''}); the catalog's images source does not match this file")
    return out, tokens_added


def main(argv=None):
    ap = argparse.ArgumentParser(prog="workbench_data.prepare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--image-store", help="shared folder for extracted images, one folder per snapshot")
    ap.add_argument("--archives", help="the fetched snapshot holding the image archives")
    ap.add_argument("--image-folder", help="a folder already holding the images, flat (instead of --archives)")
    ap.add_argument("--archive-glob", default="images_*.zip")
    ap.add_argument("--captions", help="image-caption pairs (ShareGPT or LLaVA layout)")
    ap.add_argument("--instructions", help="a baseline's instructions (ShareGPT or LLaVA layout)")
    args = ap.parse_args(argv)
    if bool(args.archives) == bool(args.image_folder) or (args.archives and not args.image_store):
        ap.error("give --archives SNAPSHOT with --image-store STORE, or --image-folder DIR")
    try:
        if args.image_folder:
            images_dir, archives, extracted = os.path.abspath(args.image_folder), [], False
            if not os.path.isdir(images_dir) or not os.listdir(images_dir):
                raise DataError(f"{images_dir}: no images there; put the source's image files in it (flat), as `workbench plan` says")
        else:
            images_dir, archives, extracted = image_folder(args.image_store, args.archives, args.archive_glob)
        names = set(os.listdir(images_dir))   # flat: extract() keeps file names only
        link_images(args.out, images_dir)
        summary = {"images": len(names), "image_folder": images_dir, "archives": archives, "files": {}}
        for flag, name in ((args.captions, "image_caption_pairs.json"), (args.instructions, "instructions.json")):
            if not flag:
                continue
            rows, added = prepare_rows(flag, images_dir, names)
            dest = os.path.join(args.out, name)
            write_json(dest, rows)
            summary["files"][name] = {"from": os.path.abspath(flag), "rows": len(rows),
                                      "image_tokens_added": added, "sha256": sha256_file(dest)}
        write_json(os.path.join(args.out, "data.json"), summary)
    except DataError as e:
        print(f"prepare: {e}", file=sys.stderr)
        return 1
    for name, f in summary["files"].items():
        print(f"{name}: {f['rows']} rows")
    how = "given" if args.image_folder else "extracted now" if extracted else "extracted before"
    print(f"images: {summary['images']} in {images_dir} ({how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
