package instance

// RunNice is runNice, for tests.
var RunNice = runNice
