"""Backprop code written the way other courses, books and tutorials write it, for the checker to read as it is."""
