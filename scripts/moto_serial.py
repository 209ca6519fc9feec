"""Starts moto's server with its requests handled one at a time.

moto's DynamoDB `TransactWriteItems` is not atomic across threads: it copies the table, applies
the items one by one (also those after a failed condition), and on a failure puts the copy
back. Two transactions in flight at once can therefore leave a cancelled one's writes in the
table, or wipe a committed one's. Real DynamoDB serializes transactions, and the races the
tests start (parallel sign-ups for one email, parallel sign-ins) depend on that, so this
wrapper gives moto the same guarantee by serializing every request.

Usage: moto_serial.py -H HOST -p PORT (the arguments of `moto_server`).
"""

import threading

import moto.server as server
from werkzeug.serving import run_simple as werkzeug_run_simple

_one_at_a_time = threading.Lock()


def _serialized(app):
    def wsgi(environ, start_response):
        with _one_at_a_time:
            # The body is read inside the lock, so the whole request is one step.
            return list(app(environ, start_response))

    return wsgi


def _run_simple(host, port, app, **options):
    werkzeug_run_simple(host, port, _serialized(app), **options)


server.run_simple = _run_simple

if __name__ == "__main__":
    server.main()
