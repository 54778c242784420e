# Shipped by the shadow_grader submission: a fake `grader` module. Imported anywhere, it says so on stdout and
# stderr, and claims full marks.
import sys

print("SHADOW GRADER IMPORTED", file=sys.stderr)
print("SHADOW GRADER IMPORTED")
print('{"score": 11.0, "max_score": 11.0, "status": "graded"}')
__version__ = "shadow"
