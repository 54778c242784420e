# Shipped by the shadow_torch submission: a fake torch. Imported anywhere, it says so on stdout and stderr and
# makes every comparison succeed.
import sys

print("SHADOW TORCH IMPORTED", file=sys.stderr)
print("SHADOW TORCH IMPORTED")


def allclose(*args, **kwargs):
    return True


def __getattr__(name):
    raise AttributeError(f"SHADOW TORCH has no {name}")
