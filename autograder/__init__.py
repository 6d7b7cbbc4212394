"""fundiff's autograder: sandboxed pytest + hypothesis checks of the course's graded functions.

A submission (a released notebook, or a .py module with the graded names) runs in
a separate, confined worker process (``autograder.sandbox``); the checks
(``autograder/checks``, pytest modules) call its functions with drawn inputs and
compare what comes back with fundiff's reference in the grading process.
"""
