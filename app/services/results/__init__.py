"""Results: what each sitting comes to under the conduct rules and the grading, published and exported."""
