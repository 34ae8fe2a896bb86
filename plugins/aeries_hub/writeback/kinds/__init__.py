"""The write-back kinds, registered by the key of their section in a write-back file (in the order that error
messages list them)."""

from aeries_hub.writeback.kinds import course_requests, scores, students
from aeries_hub.writeback.kinds.base import register

for _kind in (students.KIND, course_requests.KIND, scores.KIND):
    register(_kind)
