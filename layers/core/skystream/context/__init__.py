"""Context tables (sherlock_classifications, crossmatch_tns): loading admin-supplied rows per object."""
