"""What a steward reads about a problem, and each problem declared once."""
