"""ARM-style errors."""


class ArmError(Exception):
    """An error answered in ARM's envelope: {"error": {"code", "message"}}."""

    def __init__(self, status, code, message, headers=None, target=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.target = target

    def body(self):
        error = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


def not_found(kind, name, parent=None):
    if parent:
        return ArmError(404, "ParentResourceNotFound",
                        f"Can not perform requested operation on nested resource. Parent resource '{parent}' not found.")
    return ArmError(404, "ResourceNotFound", f"The Resource '{kind}/{name}' under resource group was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def bad_request(message, code="BadRequest"):
    return ArmError(400, code, message)


def conflict(message, code="Conflict"):
    return ArmError(409, code, message)
