"""The operations view: the live dashboard, repeated problems and the works on a date."""
