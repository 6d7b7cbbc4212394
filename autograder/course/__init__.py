"""The course's tooling: notebooks built from their specs, the student build, the graded table.

- ``autograder.course.spec``: the percent-format cell specs, ``solutions/src/NAME.py``;
- ``autograder.course.build``: the nbgrader source notebooks (``solutions/``), the
  student release (``course/``) and the graded-reference table, written from the specs
  (``python -m autograder.course.build [--check]``);
- ``autograder.course.graded``: the graded-reference table, what the grader needs of the
  specs at grading time (the graded names, the notebooks' imports), shipped in the package;
- ``autograder.course.student``: the student build, fundiff with every graded body
  stubbed (``python -m autograder.course.student OUT_DIR`` writes its wheel).
"""
