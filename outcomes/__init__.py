"""The municipality's outcome figures (issue #19): aggregates only, per team and overall."""
