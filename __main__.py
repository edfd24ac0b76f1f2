"""anycloud: the orders service, rendered onto the cloud named by `anycloud:cloud`."""

from app import SERVICE
from components.program import run

run(SERVICE)
