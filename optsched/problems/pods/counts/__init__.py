"""The count model of pods (an integer per pod class and node), for CP-SAT and MILP."""
