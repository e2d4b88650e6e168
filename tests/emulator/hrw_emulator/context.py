"""What an ARM handler sees of a request, and the paging helper."""

import urllib.parse

from .errors import bad_request
from .odata import compile_filter


class Request:
    def __init__(self, server, method, path, query, body, raw_body, api_version, params, headers):
        self.server = server
        self.store = server.store
        self.method = method
        self.path = path
        self.query = query  # dict name -> first value
        self.body = body
        self.raw_body = raw_body
        self.api_version = api_version
        self.params = params or {}
        self.headers = headers

    @property
    def base_url(self):
        return self.server.arm_endpoint

    def page(self, items):
        """Apply $filter, then page with $skiptoken / --page-size; return the list body."""
        predicate = compile_filter(self.query.get("$filter"))
        if predicate:
            items = [i for i in items if predicate(i)]
        try:
            skip = int(self.query.get("$skiptoken") or 0)
        except ValueError:
            raise bad_request("Invalid $skiptoken") from None
        size = self.server.page_size
        top = self.query.get("$top")
        if top:
            try:
                size = min(size, int(top)) if size else int(top)
            except ValueError:
                raise bad_request("Invalid $top") from None
        if not size:
            return {"value": items[skip:]}
        window = items[skip:skip + size]
        body = {"value": window}
        if skip + size < len(items):
            query = {k: v for k, v in self.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(skip + size)
            body["nextLink"] = f"{self.base_url}{self.path}?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}"
        return body
