"""A small family that lives outside the package, to show that a folder is all it takes."""
