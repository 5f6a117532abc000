"""Start moto_server for the sluice offline stack and the tests, with workarounds.

Step Functions: moto 5.2.1 deep-copies a state machine on every StartExecution, together
with every earlier execution of it:

1. The copy drags in the previous execution's worker thread and its RLock,
   so the second execution of a state machine fails with HTTP 500 "cannot
   pickle '_thread.RLock'".
2. Each execution keeps its own copy of the state machine, which holds
   copies of the executions before it, and so on: memory and CPU grow
   much faster than the number of executions. After a few dozen executions
   with retries and Map iterations moto holds gigabytes and answers in
   seconds.

Execution workers, the parser backend and executions are live objects,
never values, so copying them must give the same object back. The patch
below does exactly that and nothing else.

Glue: moto 5.2.1's UpdateTable ignores the request's VersionId, so two
writers that read the same version both "succeed" and the first one's
update is lost. Iceberg catalogs on Glue rely on that check for their
commits. The patch compares VersionId with the table's current version,
under one lock with the update itself, and answers a stale one with
ConcurrentModificationException, as Glue does. A request without
VersionId updates unconditionally, as before.

Used as: python3 moto_launcher.py -H 127.0.0.1 -p PORT
The offline stack sets MOTO_PORT to its own front port, so the Step
Functions interpreter's calls (Lambda Invoke included) reach the front
server, which serves Lambda and forwards everything else here.
"""
import sys
import threading

from moto import server
from moto.glue.exceptions import GlueClientError
from moto.glue.responses import GlueResponse
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.models import Execution
from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend


def _same(self, memo):
    return self


ExecutionWorker.__deepcopy__ = _same
StepFunctionsParserBackend.__deepcopy__ = _same
Execution.__deepcopy__ = _same
ParserExecution.__deepcopy__ = _same


class ConcurrentModificationException(GlueClientError):
    def __init__(self, msg):
        super().__init__("ConcurrentModificationException", msg)


_glue_update_lock = threading.Lock()
_glue_update_table = GlueResponse.update_table


def _update_table_if_current(self):
    version = self.parameters.get("VersionId")
    with _glue_update_lock:
        if version is not None:
            database = self.parameters.get("DatabaseName")
            name = (self.parameters.get("TableInput") or {}).get("Name")
            current = str(self.glue_backend.get_table(database, name)._current_version)
            if str(version) != current:
                raise ConcurrentModificationException(
                    f"table {database}.{name} is at version {current}, not {version}"
                )
        return _glue_update_table(self)


GlueResponse.update_table = _update_table_if_current

if __name__ == "__main__":
    server.main(sys.argv[1:])
