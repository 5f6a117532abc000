"""Start moto_server for the sluice offline stack, with one workaround.

moto 5.2.1 deep-copies a state machine on every StartExecution, and the
copy drags in the previous execution's worker thread and its RLock, so the
second execution of a state machine fails with HTTP 500 "cannot pickle
'_thread.RLock'". Execution workers and the parser backend are live
objects, never values, so copying them must give the same object back.
The patch below does exactly that and nothing else.

Used as: python3 moto_launcher.py -H 127.0.0.1 -p PORT
The offline stack sets MOTO_PORT to its own front port, so the Step
Functions interpreter's calls (Lambda Invoke included) reach the front
server, which serves Lambda and forwards everything else here.
"""
import sys

from moto import server
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend


def _same(self, memo):
    return self


ExecutionWorker.__deepcopy__ = _same
StepFunctionsParserBackend.__deepcopy__ = _same

if __name__ == "__main__":
    server.main(sys.argv[1:])
