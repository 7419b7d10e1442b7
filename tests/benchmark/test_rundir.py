import json
import subprocess

from benchmark.rundir import Run, manifest, new_run_dir, write_atomic


def test_run_folders_are_never_reused(tmp_path):
    paths = {new_run_dir(tmp_path) for _ in range(5)}
    assert len(paths) == 5 and all(p.is_dir() for p in paths)


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    write_atomic(tmp_path / "a" / "f.txt", "one")
    write_atomic(tmp_path / "a" / "f.txt", "two")
    assert (tmp_path / "a" / "f.txt").read_text() == "two"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["f.txt"]


def test_manifest_records_what_a_reader_needs(tmp_path):
    run = Run(tmp_path, manifest({"model-sync": {"port": 1}}, {"profile": "quick"}))
    data = json.loads((tmp_path / "manifest.json").read_text())
    for key in ("commit", "dirty", "python", "packages", "cpu_count", "cpu_model", "settings", "command", "started"):
        assert key in data
    assert data["complete"] is False and "flask" in data["packages"]
    run.finish(complete=False, reason="interrupted (SIGINT)")
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert data["ended"] and data["incomplete_reason"] == "interrupted (SIGINT)"


def test_source_fingerprint_follows_the_code_not_the_docs(tmp_path, monkeypatch):
    from benchmark import rundir

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("one\n")
    monkeypatch.setattr(rundir, "ROOT", tmp_path)
    first = rundir.source_fingerprint()
    (tmp_path / "README.md").write_text("two\n")  # docs: the same code
    assert rundir.source_fingerprint() == first
    (tmp_path / "a.py").write_text("x = 2\n")  # an uncommitted change to the code
    assert first and rundir.source_fingerprint() != first
