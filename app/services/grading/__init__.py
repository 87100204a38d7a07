"""Blind grading (考评分离): rubrics, graders, score sheets and how their totals make a score."""
