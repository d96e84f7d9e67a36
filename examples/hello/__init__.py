"""Two activities in sequence: the smallest useful workflow."""
