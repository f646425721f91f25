"""cdpclient: capture and compare heap snapshots and profiles of live Node.js processes."""
