"""The registries' rules, on the frameworks' one: parts found by name, in the package and in the user's folders."""

from __future__ import annotations

import pytest

from api_common import frameworks
from api_common.registry import MissingDependency, UnknownPart
from tests.conftest import make_stack


def test_the_built_in_frameworks_are_found_by_name_and_say_what_they_build():
    assert {"bare", "fastapi", "flask", "quart", "starlette"} <= set(frameworks.names())
    assert frameworks.get("bare").kinds("scoring") == ("wsgi", "asgi")
    assert frameworks.get("flask").factory("model", "wsgi") == ("api_model.flask_app", "create_app")
    with pytest.raises(ValueError, match="framework quart builds no wsgi app for the model tier"):
        frameworks.get("quart").factory("model", "wsgi")


def test_a_chain_refuses_a_framework_that_builds_no_app_of_its_kind():
    with pytest.raises(ValueError, match="framework starlette builds no wsgi app for the model tier"):
        make_stack(model_sync={"app": "starlette"})  # an ASGI framework on the WSGI chain
    assert make_stack(model_sync={"app": "starlette", "server": "queue_workers"})  # runs no app of its framework


def test_an_unknown_part_is_refused_with_the_known_ones():
    with pytest.raises(UnknownPart, match="unknown framework 'nope'; known: bare, fastapi, flask"):
        frameworks.get("nope")
    with pytest.raises(ValueError, match="unknown framework 'nope'"):
        make_stack(scoring_async={"app": "nope"})


def test_a_users_folder_adds_parts_and_a_missing_library_is_named(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(
        "from api_common.frameworks import Framework\n"
        "FRAMEWORK = Framework('mine', {('model', 'asgi'): 'somewhere:create'})\n"
    )
    (tmp_path / "needy.py").write_text("import not_an_installed_library\nFRAMEWORK = None\n")
    monkeypatch.setenv("LAB_FRAMEWORK_PATH", str(tmp_path))
    assert frameworks.get("mine").factory("model", "asgi") == ("somewhere", "create")
    with pytest.raises(MissingDependency, match="framework needy needs not_an_installed_library"):
        frameworks.get("needy")
    # The old spelling of a run's settings still means each chain's own framework.
    assert make_stack(model_sync={"app": "framework"}).model("sync").settings.app == "flask"
