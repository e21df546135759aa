"""Only what pyproject.toml cannot say: the top-level `resources/` folder installs as `poseeditor.resources`."""

from setuptools import find_packages, setup

packages = find_packages(include=["poseeditor", "poseeditor.*", "models", "models.*", "trainer", "trainer.*"])
setup(
    packages=[*packages, "poseeditor.resources"],
    package_dir={"poseeditor.resources": "resources"},
)
