"""`anycloud dev`: the declared service run on one machine, with no cloud and no cloud SDK."""
