"""Experimental design: the Fisher information as a function of the design (pm.Data
containers), its exact gradient, optimality criteria and optimal designs."""
