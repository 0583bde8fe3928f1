"""One module per tool group; each tool validates, calls loopcore, maps errors."""
