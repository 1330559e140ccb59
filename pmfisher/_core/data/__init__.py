"""The data side: data sets simulated from the model, the likelihood as a function of the data,
child seeds.
"""
