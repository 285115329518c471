"""Who may do what on the fake GitLabs, as GitLab decides it: a token's user and that user's role in the
project, the token's scopes, and the project's rule for pipeline variables; and the JSON GitLab shows
of a token and of a project."""

from __future__ import annotations

from dataclasses import dataclass

GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50  # Gitlab::Access levels
# ci_pipeline_variables_minimum_override_role: who may set pipeline variables (None: no one).
VARIABLES_ROLE = {"no_one_allowed": None, "developer": DEVELOPER, "maintainer": MAINTAINER, "owner": OWNER}
INSUFFICIENT = "Insufficient permissions to set pipeline variables"


@dataclass
class Member:
    """A user of the project and the access token it acts with."""

    user: str
    role: int = MAINTAINER
    token: str = ""
    scopes: tuple[str, ...] = ("api",)

    def token_json(self) -> dict:
        """GET /personal_access_tokens/self (doc/api/personal_access_tokens.md)."""
        return {
            "id": 9001,
            "name": "tower",
            "revoked": False,
            "created_at": "2026-01-01T00:00:00.000Z",
            "scopes": list(self.scopes),
            "user_id": 77,
            "last_used_at": None,
            "active": True,
            "expires_at": None,
        }


def project_json(project: str, project_id: int, member: Member, variables_role: str) -> dict:
    """GET /projects/:id as `member` sees it (lib/api/entities/project.rb): its own access under
    `permissions`, and the CI/CD settings only with admin_project (Maintainer or more)."""
    body = {
        "id": project_id,
        "path_with_namespace": project,
        "default_branch": "main",
        "ci_config_path": "",
        "permissions": {"project_access": {"access_level": member.role, "notification_level": 3}, "group_access": None},
    }
    if member.role >= MAINTAINER:
        body |= {
            "restrict_user_defined_variables": variables_role != "developer",
            "ci_pipeline_variables_minimum_override_role": variables_role,
        }
    return body


def may_set_variables(owner: Member, variables_role: str) -> bool:
    """set_pipeline_variables (app/policies/project_policy.rb, user_defined_variables_allowed): the
    trigger's owner's role must reach the project's minimum; `no_one_allowed` refuses everyone
    (doc/ci/variables: the default of new projects in new GitLab.com namespaces since 17.7)."""
    minimum = VARIABLES_ROLE[variables_role]
    return minimum is not None and owner.role >= minimum


def may_read_variables(reader: Member, triggerer: str, protected_ref: bool) -> bool:
    """read_pipeline_variable (app/policies/ci/pipeline_policy.rb): admin_pipeline (Maintainer), or the
    pipeline's own triggerer while it may update the pipeline (Developer, on a ref it may push to)."""
    if reader.role >= MAINTAINER:
        return True
    return reader.user == triggerer and reader.role >= DEVELOPER and not protected_ref
