"""dualcam: proctored exams on two phones."""
