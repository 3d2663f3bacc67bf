package catalogsql

// DBErr exposes dbErr to the tests.
var DBErr = dbErr
