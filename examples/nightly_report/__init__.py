"""A nightly report: a schedule starts it, child workflows compute it region by region."""
