"""The exam as ops set it up: exams, sessions and their questions, the roster, candidates."""
