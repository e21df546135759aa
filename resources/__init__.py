"""Shipped artifacts (installed as the package `poseeditor.assets`): trained generator, detector models,
sample photos, pose presets, icons. Data only; this file exists so the folder installs with the wheel."""
