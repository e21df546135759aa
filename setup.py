"""Only what pyproject.toml cannot say: the top-level `resources/` folder installs as `poseeditor.assets`."""

from setuptools import find_packages, setup

packages = find_packages(include=["poseeditor", "poseeditor.*", "models", "models.*", "trainer", "trainer.*"])
setup(
    packages=[*packages, "poseeditor.assets"],
    package_dir={"poseeditor.assets": "resources"},
)
