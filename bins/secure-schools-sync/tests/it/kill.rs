//! SIGKILL mid-apply.
