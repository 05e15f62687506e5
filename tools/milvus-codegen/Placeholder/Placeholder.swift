// The package only builds the code generators; it has no code of its own.
