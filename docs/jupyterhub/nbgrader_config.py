# nbgrader's settings shared by everyone on the hub: /etc/jupyter/nbgrader_config.py on the hub's
# machine (or in the single-user image). The course's own settings stay in the course folder's
# nbgrader_config.py, which the teaching team's commands read as well.
c = get_config()  # noqa: F821 (injected by nbgrader)

# The course students see under Assignments, and the one the teaching team's commands act on.
c.CourseDirectory.course_id = "batchnorm-tutorial10"

# nbgrader's exchange: one folder every server of the hub can reach (the same disk, or the same
# shared volume), mode 777; nbgrader gives each course's folders their own modes (inbound 733:
# students hand in there but cannot list it; feedback 711: a student reads only the feedback of
# notebooks they handed in).
c.Exchange.root = "/srv/nbgrader/exchange"
