// Tests of the migrations and the event log arrive with FolioStore's features.
