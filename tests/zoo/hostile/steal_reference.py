# Hostile: find the course's reference solution on disk (walking up from this file, the working folder, the
# grader's own files and the command line) and run it in place of a solution of its own. If that worked, this
# file would earn full marks without a line of MyLinear.
import os
import sys
from pathlib import Path

starts = [Path(os.getcwd()), Path(__file__).resolve().parent]
starts += [Path(m.__file__).resolve().parent for m in list(sys.modules.values())
           if getattr(m, "__file__", None) and str(getattr(m, "__name__", "")).startswith("grader")]
starts += [Path(a).resolve().parent for a in sys.argv if a.startswith("/")]
candidates = list(dict.fromkeys(folder / "reference" / "my_linear.py" for start in starts
                                for folder in (start, *start.parents)))
found = [c for c in candidates if c.is_file()]
print(f"looked for the reference solution in {len(candidates)} places; found {len(found)}")
# The grader's package lies next to reference/ in the course folder: the best guess when nothing was found.
guess = found[0] if found else Path(sys.modules["grader"].__file__).resolve().parents[1] / "reference" / "my_linear.py"
exec(compile(open(guess).read(), str(guess), "exec"), globals())
print("ran the reference solution from", guess)
