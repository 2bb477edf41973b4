// A CouchDB-compatible HTTP server for farm's tests: express-pouchdb on
// in-memory PouchDB databases. Usage: node server.js PORT
// It prints "listening PORT" once it accepts connections.
'use strict';
const express = require('express');
const PouchDB = require('pouchdb-core')
  .plugin(require('pouchdb-adapter-memory'))
  .plugin(require('pouchdb-adapter-http'))
  .plugin(require('pouchdb-mapreduce'))
  .plugin(require('pouchdb-replication'))
  .plugin(require('pouchdb-find'));

const port = parseInt(process.argv[2], 10);
if (!port) {
  console.error('usage: node server.js PORT');
  process.exit(2);
}
const app = express();
app.use('/', require('express-pouchdb')(PouchDB.defaults({adapter: 'memory'}), {
  inMemoryConfig: true,
  mode: 'fullCouchDB',
  // No users, sessions or admin pages: the tests need the database API.
  overrideMode: {exclude: ['routes/authentication', 'routes/authorization', 'routes/session',
    'routes/security', 'routes/fauxton', 'routes/log', 'routes/stats', 'routes/http-log',
    'routes/active-tasks', 'routes/db-updates', 'routes/replicate', 'routes/vhosts',
    'routes/rewrite', 'routes/list', 'routes/show', 'routes/update', 'routes/special-test-auth']},
}));
const server = app.listen(port, '127.0.0.1', () => console.log('listening ' + port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
